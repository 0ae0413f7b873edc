"""Attacks on the running action server (security/action_server.py), and what it must do.

The attacker reaches port BACLOFEN_ACTIONS_PORT directly: without the shared token it must
run nothing; with it (Rasa) compressed and oversized bodies are refused from the headers,
and an error never echoes the request. Every server of the stack listens on loopback only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Dict, List, Set

import pytest
import requests

from stack import ROOT, Stack

pytestmark = pytest.mark.stack

MARKER = "ZZQXDRUG"  # a made-up drug name the old server echoed back


def forged_call(action: str = "action_answer") -> dict:
    """What an attacker sends: a made-up tracker asking about a made-up drug."""
    return {
        "next_action": action, "sender_id": "attacker", "version": "3.6.2",
        "tracker": {"sender_id": "attacker", "slots": {}, "events": [], "active_loop": {},
                    "latest_message": {"text": f"can I take {MARKER}?", "intent": {"name": "ask_interaction"},
                                       "entities": [{"entity": "drug", "value": MARKER}]}},
    }


def webhook(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.actions_port}/webhook"


def auth(stack: Stack) -> Dict[str, str]:
    assert stack.actions_token
    return {"Authorization": f"Bearer {stack.actions_token}"}


@pytest.mark.parametrize("action", ["action_answer", "action_emergency"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-0123456789abcdef"},
                                     {"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}],
                         ids=["no token", "wrong token", "other scheme"])
def test_no_action_runs_without_the_token(stack: Stack, action: str, headers: Dict[str, str]) -> None:
    r = requests.post(webhook(stack), json=forged_call(action), headers=headers, timeout=10)
    assert r.status_code == 401
    assert r.json() == {"error": "missing or wrong action server token"}
    assert MARKER not in r.text
    listing = requests.get(f"http://127.0.0.1:{stack.actions_port}/actions", headers=headers, timeout=10)
    assert listing.status_code == 401


def test_health_needs_no_token(stack: Stack) -> None:
    assert requests.get(f"http://127.0.0.1:{stack.actions_port}/health", timeout=10).json() == {"status": "ok"}


def test_rasa_sends_the_token(stack: Stack) -> None:
    """The product still answers end to end: Rasa's calls carry the token (bot/endpoints.yml)."""
    assert "Source:" in stack.probe()


def test_a_compressed_body_is_refused_before_it_is_inflated(stack: Stack) -> None:
    # 65 KB that inflates to 64 MB (the probe's 249 KB became 256 MB and +750 MB RSS).
    bomb = zlib.compress(b'{"next_action": "action_answer", "pad": "' + b"0" * (64 * 2**20) + b'"}', 9)
    for encoding in ("deflate", "gzip", "br", "identity, deflate"):
        r = requests.post(webhook(stack), data=bomb, timeout=20,
                          headers={**auth(stack), "Content-Encoding": encoding, "Content-Type": "application/json"})
        assert r.status_code == 415, encoding
        assert r.json() == {"error": "compressed request bodies are not accepted"}
    assert requests.post(webhook(stack), json=forged_call(), headers=auth(stack), timeout=30).status_code == 200


def test_an_oversized_body_is_refused(stack: Stack) -> None:
    big = b'{"next_action": "action_answer", "pad": "' + b"x" * (600 * 1024) + b'"}'
    r = requests.post(webhook(stack), data=big, headers={**auth(stack), "Content-Type": "application/json"},
                      timeout=20)
    assert r.status_code == 413
    assert r.json()["error"].startswith("request body over")

    def chunks():  # no Content-Length: Sanic's own cap must still stop it
        for _ in range(40):
            yield b"x" * 32 * 1024

    r = requests.post(webhook(stack), data=chunks(), headers=auth(stack), timeout=20)
    assert r.status_code == 413
    assert "x" * 20 not in r.text


def test_errors_never_echo_the_request(stack: Stack) -> None:
    secret = "PATIENT-NOTE-4711 takes 80 mg"
    # A tracker that is not an object makes rasa_sdk's executor raise: its own handler
    # answered 500 with the whole request body.
    r = requests.post(webhook(stack), json={"next_action": "action_answer", "tracker": secret,
                                            "version": "3.6.2"}, headers=auth(stack), timeout=20)
    assert r.status_code == 500
    assert r.json() == {"error": "internal error"}
    r = requests.post(webhook(stack), data=f'{{"next_action": "{secret}',
                      headers={**auth(stack), "Content-Type": "application/json"}, timeout=20)
    assert 400 <= r.status_code < 600
    assert secret not in r.text and "Traceback" not in r.text
    stack.parts[0].settle()
    assert secret not in stack.parts[0].log.read_text(errors="replace")[-200_000:]


def listening_addresses(port: int) -> Set[str]:
    """The local addresses the kernel has a TCP listener on for `port` (IPv4 and IPv6)."""
    found: Set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


LOOPBACK_V4 = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it


def test_every_server_listens_on_loopback_only(stack: Stack) -> None:
    for part in stack.parts:
        assert listening_addresses(part.port) == {LOOPBACK_V4}, part.name


def test_the_action_server_refuses_to_start_without_a_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "BACLOFEN_ACTIONS_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    for token in (None, "short"):
        if token:
            env["BACLOFEN_ACTIONS_TOKEN"] = token
        t0 = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "security.action_server", "--port", "1"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode != 0
        lines: List[str] = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
        assert len(lines) == 1 and "BACLOFEN_ACTIONS_TOKEN" in lines[0], done.stderr[-2000:]
        assert time.monotonic() - t0 < 60
