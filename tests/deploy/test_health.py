"""Readiness: channels/health.py (GET /webhooks/health/ready) and the image's HEALTHCHECK
(deploy/healthcheck.py).

The point of the channel: Rasa's `/` says "Hello from Rasa" even when its model failed to
load, so a load balancer would send users to a server that can only apologise. Proved on
real servers: one with a corrupt model (`/` 200, ready 503) and the project's stack (200).
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, Optional, Tuple

import pytest

from deploy import healthcheck

ROOT = Path(__file__).resolve().parents[2]
READY = "/webhooks/health/ready"


def get(url: str) -> Tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


# --- channels/health.py -----------------------------------------------------------------

class FakeAgent:
    def __init__(self, ready: Optional[bool], model_id: str = "m-1") -> None:
        self.ready, self.model_id = ready, model_id

    def is_ready(self) -> bool:
        if self.ready is None:
            raise RuntimeError("half-built agent")
        return self.ready


@pytest.mark.parametrize("agent, status", [
    (None, 503),                    # Rasa has not created the agent yet
    (FakeAgent(False), 503),        # no model loaded (or no tracker store)
    (FakeAgent(None), 503),         # an agent that raises is not ready, never a 500
    (FakeAgent(True), 200),
])
def test_readiness_answers_200_only_with_a_ready_agent(agent: Optional[FakeAgent], status: int) -> None:
    from channels.health import readiness

    response = readiness(agent)
    assert response.status == status
    body = json.loads(response.body)
    assert body["status"] == ("ready" if status == 200 else "no model loaded")
    if status == 200:
        assert body["model_id"] == "m-1"


def test_a_real_agent_without_a_model_is_not_ready() -> None:
    from rasa.core.agent import Agent

    from channels.health import agent_ready

    assert agent_ready(Agent()) is False


@pytest.mark.stack
def test_rasa_with_a_corrupt_model_says_hello_but_is_not_ready(tmp_path: Path) -> None:
    from stack import Stack, free_port

    bad = tmp_path / "baclofen.tar.gz"
    bad.write_bytes(os.urandom(2048))
    stack = Stack(rasa_port=free_port(), actions_port=free_port(), with_web=False,
                  tracker_url=f"sqlite:///{tmp_path}/conversations.sqlite")
    log = open(tmp_path / "rasa.log", "w")
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "rasa"), "run", "-m", str(bad), "--port", str(stack.rasa_port),
         "--credentials", "bot/credentials.yml", "--endpoints", "bot/endpoints.yml"],
        cwd=ROOT, env=stack._env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while get_or_none(f"{stack.rasa_url}/") is None:
            assert proc.poll() is None, (tmp_path / "rasa.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "Rasa did not start"
            time.sleep(0.3)
        assert get(f"{stack.rasa_url}/") == (200, "Hello from Rasa: 3.6.21")
        status, body = get(f"{stack.rasa_url}{READY}")
        assert status == 503 and json.loads(body) == {"status": "no model loaded"}
        argv = ["/app/.venv/bin/python3", "/app/.venv/bin/rasa", "run", "--port", str(stack.rasa_port)]
        url = healthcheck.health_url(argv)
        assert url and not healthcheck.healthy(url)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def get_or_none(url: str) -> Optional[int]:
    try:
        return get(url)[0]
    except OSError:
        return None


@pytest.mark.stack
def test_the_running_product_is_ready(stack) -> None:  # noqa: ANN001 (session fixture, tests/conftest.py)
    status, body = get(f"{stack.rasa_url}{READY}")
    assert status == 200
    reply = json.loads(body)
    assert reply["status"] == "ready" and reply["model_id"]
    # What the image's HEALTHCHECK would find for the two servers this stack runs.
    for part in stack.parts[:2]:
        url = healthcheck.health_url(part.cmd)
        assert url and healthcheck.healthy(url), part.name


# --- deploy/healthcheck.py --------------------------------------------------------------

@pytest.mark.parametrize("argv, url", [
    (["/app/.venv/bin/python3", "/app/.venv/bin/rasa", "run", "-m", "/app/models/baclofen.tar.gz",
      "--port", "5005", "--credentials", "bot/credentials.yml"], "http://127.0.0.1:5005/webhooks/health/ready"),
    (["rasa", "run", "--port=6000"], "http://127.0.0.1:6000/webhooks/health/ready"),
    (["rasa", "run"], "http://127.0.0.1:5005/webhooks/health/ready"),
    (["python", "-m", "rasa_sdk", "--actions", "actions", "--port", "5056"], "http://127.0.0.1:5056/health"),
    (["python", "-m", "security.action_server", "--actions", "actions", "--port", "5058"],
     "http://127.0.0.1:5058/health"),
    (["rasa", "run", "actions", "-p", "5057"], "http://127.0.0.1:5057/health"),
    (["/bin/sh", "/app/deploy/entrypoint.sh", "rasa"], None),   # the entry point before its exec
    (["python", "/app/deploy/healthcheck.py"], None),
    (["sleep", "5"], None),
])
def test_health_url_follows_the_server_command(argv: list, url: Optional[str]) -> None:
    assert healthcheck.health_url(argv) == url


def test_find_server_reads_the_container_processes(tmp_path: Path) -> None:
    for pid, argv in {1: ["catatonit", "--", "/app/deploy/entrypoint.sh", "actions"],
                      7: ["python", "-m", "rasa_sdk", "--actions", "actions", "--port", "5055"],
                      9: ["python", "/app/deploy/healthcheck.py"]}.items():
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (tmp_path / "self").mkdir()
    (tmp_path / "3").mkdir()  # a process that ended: no cmdline
    found = healthcheck.find_server(tmp_path)
    assert found is not None
    assert found[1] == "http://127.0.0.1:5055/health"
    (tmp_path / "7" / "cmdline").unlink()
    assert healthcheck.find_server(tmp_path) is None


class _Status(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def status_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Status)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_healthy_only_on_200(status_server: int) -> None:
    assert healthcheck.healthy(f"http://127.0.0.1:{status_server}/health")
    assert not healthcheck.healthy(f"http://127.0.0.1:{status_server}{READY}")
    from stack import free_port

    assert not healthcheck.healthy(f"http://127.0.0.1:{free_port()}/health")  # nothing listens
