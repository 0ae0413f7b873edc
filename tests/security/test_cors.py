"""CORS on the running Rasa server: only the allowed origins (security/origins.py), never
with credentials. Rasa 3.6 hard-codes Access-Control-Allow-Credentials: true and the stack
used to start it with `--cors "*"`, so any web page could drive a user's chat."""

from __future__ import annotations

from typing import Dict

import pytest
import requests

from stack import Stack

pytestmark = pytest.mark.stack

FOREIGN = ("http://evil.example", "null", "http://127.0.0.1:1", "http://localhost.evil.example")


def cors_headers(r: requests.Response) -> Dict[str, str]:
    return {k.lower(): v for k, v in r.headers.items() if k.lower().startswith("access-control-")}


def page_origin(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.web_port}"


@pytest.mark.parametrize("origin", FOREIGN)
def test_a_foreign_origin_gets_no_cors_allowance(stack: Stack, origin: str) -> None:
    r = requests.post(stack.rest_url, json={"sender": "cors-foreign", "message": "hello"},
                      headers={"Origin": origin}, timeout=60)
    assert r.status_code == 200
    assert cors_headers(r) == {}
    pre = requests.options(stack.rest_url, timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert "access-control-allow-origin" not in cors_headers(pre)
    assert "access-control-allow-credentials" not in cors_headers(pre)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_example_page_origin_is_allowed_without_credentials(stack: Stack, host: str) -> None:
    origin = f"http://{host}:{stack.web_port}"
    r = requests.post(stack.rest_url, json={"sender": "cors-page", "message": "hello"},
                      headers={"Origin": origin}, timeout=60)
    assert cors_headers(r).get("access-control-allow-origin") == origin
    assert "access-control-allow-credentials" not in cors_headers(r)
    pre = requests.options(stack.rest_url, timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert cors_headers(pre).get("access-control-allow-origin") == origin
    assert "access-control-allow-credentials" not in cors_headers(pre)


def test_an_error_response_gets_no_credentials_either(stack: Stack) -> None:
    r = requests.post(stack.rest_url, data=b"{not json", headers={"Origin": "http://evil.example",
                                                                   "Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400
    assert cors_headers(r) == {}


def test_a_rasa_started_with_cors_star_still_allows_only_the_list(tmp_path) -> None:  # noqa: ANN001
    """A deployer's `rasa run --cors "*"` (the old stack's own flag): our channels put the
    allowlist and no-credentials rule on the app inside Rasa (security/server_limits.py)."""
    import os
    import signal
    import subprocess
    import time

    from stack import ROOT, free_port

    port, web_port = free_port(), free_port()
    stack = Stack(rasa_port=port, actions_port=free_port(), web_port=web_port, with_web=False,
                  tracker_url=f"sqlite:///{tmp_path}/conversations.sqlite")
    log = open(tmp_path / "rasa.log", "w")
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "rasa"), "run", "-m", str(stack.model), "--port", str(port),
         "--credentials", "bot/credentials.yml", "--endpoints", "bot/endpoints.yml", "--cors", "*"],
        cwd=ROOT, env=stack._env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (tmp_path / "rasa.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "Rasa did not start"
            try:
                requests.get(f"{stack.rasa_url}/", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.5)
        for origin, allowed in (("http://evil.example", False), (f"http://localhost:{web_port}", True)):
            pre = requests.options(stack.rest_url, timeout=10, headers={
                "Origin": origin, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type"})
            headers = cors_headers(pre)
            assert headers.get("access-control-allow-origin") == (origin if allowed else None), origin
            assert "access-control-allow-credentials" not in headers
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
