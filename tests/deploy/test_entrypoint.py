"""deploy/entrypoint.sh: the container's servers need the action server token, and Rasa's
HTTP API starts only with authentication (BACLOFEN_API_TOKEN or BACLOFEN_JWT_SECRET)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
SECRETS = ("BACLOFEN_ACTIONS_TOKEN", "BACLOFEN_API_TOKEN", "BACLOFEN_JWT_SECRET", "BACLOFEN_ENABLE_API",
           "BACLOFEN_BIND_ADDRESS")


def env(**values: str) -> Dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in SECRETS}
    base["PATH"] = f"{ROOT / '.venv' / 'bin'}:{base.get('PATH', '')}"
    return {**base, **values}


def refusal(role: str, **values: str) -> str:
    # What the image's ENV sets; no model there, so a server that does start fails soon.
    image = {"BACLOFEN_MODELS_DIR": "/nonexistent", "BACLOFEN_RASA_PORT": "1", "BACLOFEN_ACTIONS_PORT": "1"}
    done = subprocess.run(["sh", str(ENTRYPOINT), role], env=env(**image, **values), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 64, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    return lines[0]


@pytest.mark.parametrize("role", ["rasa", "actions"])
def test_no_server_starts_without_the_actions_token(role: str) -> None:
    assert "BACLOFEN_ACTIONS_TOKEN" in refusal(role)


def test_the_api_is_refused_without_authentication() -> None:
    line = refusal("rasa", BACLOFEN_ACTIONS_TOKEN="t" * 32, BACLOFEN_ENABLE_API="1")
    assert "BACLOFEN_API_TOKEN" in line and "BACLOFEN_JWT_SECRET" in line


@pytest.mark.stack
def test_the_api_with_a_token_answers_only_with_it(tmp_path: Path) -> None:
    from stack import free_port

    port, token = free_port(), "entrypoint-api-token-0123456789"
    log = open(tmp_path / "rasa.log", "w")
    proc = subprocess.Popen(["sh", str(ENTRYPOINT), "rasa"], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, env=env(
                                BACLOFEN_ACTIONS_TOKEN="t" * 32, BACLOFEN_ENABLE_API="1", BACLOFEN_API_TOKEN=token,
                                BACLOFEN_MODELS_DIR=str(ROOT / "models"), BACLOFEN_RASA_PORT=str(port),
                                BACLOFEN_ACTIONS_URL="http://127.0.0.1:9/webhook", PYTHONPATH=str(ROOT),
                                BACLOFEN_TRACKER_URL=f"sqlite:///{tmp_path}/conversations.sqlite",
                                RASA_TELEMETRY_ENABLED="false"))
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (tmp_path / "rasa.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "Rasa did not start"
            try:
                if requests.get(f"http://127.0.0.1:{port}/webhooks/health/ready", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        assert requests.get(f"http://127.0.0.1:{port}/status", timeout=10).status_code == 401
        assert requests.get(f"http://127.0.0.1:{port}/conversations/x/tracker", timeout=10).status_code == 401
        assert requests.get(f"http://127.0.0.1:{port}/status", params={"token": token}, timeout=10).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
