"""Limits on the running Rasa server that must hold however it was started: the request
body cap (BACLOFEN_MAX_REQUEST_BYTES, applied inside Rasa by security/server_limits.py) and
the HTTP API only with a token (BACLOFEN_API_TOKEN). `make run` itself: tests/test_make_run.py."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import start_stack
from stack import Stack, StackError

pytestmark = pytest.mark.stack


def test_a_body_over_the_cap_is_refused_without_echo(stack: Stack) -> None:
    body = b'{"sender": "big", "message": "' + b"A" * 2_000_000 + b'"}'
    r = requests.post(stack.rest_url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 413
    assert "AAAAAAAAAA" not in r.text and "Traceback" not in r.text
    # Just under the cap still reaches the channel, whose own guard answers politely.
    body = b'{"sender": "big", "message": "' + b"A" * 900_000 + b'"}'
    r = requests.post(stack.rest_url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 200 and "AAAAAAAAAA" not in r.text


def test_the_api_without_a_token_refuses_to_start() -> None:
    env = {"BACLOFEN_API_TOKEN": "", "BACLOFEN_JWT_SECRET": ""}
    try:
        stack = start_stack(enable_api=True, with_web=False, extra_env=env)
    except StackError as e:
        message = str(e)
    else:
        stack.stop()
        pytest.fail("the stack started Rasa's HTTP API with no authentication")
    assert "\n" not in message and "BACLOFEN_API_TOKEN" in message


def test_the_api_with_a_token_refuses_requests_without_it() -> None:
    token = "api-token-for-the-test-0123456789"
    stack = start_stack(enable_api=True, with_web=False, extra_env={"BACLOFEN_API_TOKEN": token})
    try:
        stack.probe()
        tracker = f"{stack.rasa_url}/conversations/startup-probe/tracker"
        events = f"{stack.rasa_url}/conversations/startup-probe/tracker/events"
        rewrite = [{"event": "slot", "name": "topic", "value": "overdose"}]
        for params in ({}, {"token": "wrong"}):
            assert requests.get(tracker, params=params, timeout=10).status_code == 401
            assert requests.post(events, json=rewrite, params=params, timeout=10).status_code == 401
            assert requests.get(f"{stack.rasa_url}/status", params=params, timeout=10).status_code == 401
        ok = requests.get(tracker, params={"token": token}, timeout=10)
        assert ok.status_code == 200 and ok.json()["sender_id"] == "startup-probe"
        assert all(e.get("value") != "overdose" for e in ok.json()["events"] if e.get("event") == "slot")
    finally:
        stack.stop()
