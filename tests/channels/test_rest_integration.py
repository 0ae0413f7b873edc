"""REST and socket.io channels inside a real Rasa server (tests/channels/rasa_server.py)."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from typing import Any, Dict, List

import pytest
import requests

from actions.compose import DISCLAIMER_MARK
from channels.guard import APOLOGY

pytestmark = pytest.mark.stack

QUESTION = "what are the side effects of baclofen?"


def ask(server, message: Any, sender: str = None, **params: Any) -> requests.Response:
    body = {"sender": sender or uuid.uuid4().hex, "message": message}
    return requests.post(f"{server.url}/webhooks/rest/webhook", json=body, params=params, timeout=60)


def texts(reply: List[Dict[str, Any]]) -> List[str]:
    return [m.get("text", "") for m in reply]


def assert_answer_with_disclaimer(messages: List[str]) -> None:
    assert messages, "no reply at all"
    assert messages[-1].startswith(DISCLAIMER_MARK), messages
    assert any("Source:" in m for m in messages), messages
    assert APOLOGY not in messages


def test_question_gets_cited_answer_ending_with_disclaimer(rasa_server):
    r = ask(rasa_server, QUESTION)
    assert r.status_code == 200
    assert_answer_with_disclaimer(texts(r.json()))


def test_offered_button_payload_passes_unchanged(rasa_server):
    sender = uuid.uuid4().hex
    greeting = ask(rasa_server, "hello", sender).json()
    assert "/ask_dosage" in [b["payload"] for m in greeting for b in m.get("buttons", [])]
    r = ask(rasa_server, "/ask_dosage", sender)
    assert_answer_with_disclaimer(texts(r.json()))
    tracker = requests.get(f"{rasa_server.url}/conversations/rest:{sender}/tracker", timeout=10).json()
    assert tracker["latest_message"]["intent"]["name"] == "ask_dosage"
    assert tracker["latest_message"]["text"] == "/ask_dosage"


def test_markup_is_stripped_before_nlu(rasa_server):
    sender = uuid.uuid4().hex
    r = ask(rasa_server, "<b>hello</b><script>alert('x')</script>", sender)
    assert r.status_code == 200 and r.json()
    tracker = requests.get(f"{rasa_server.url}/conversations/rest:{sender}/tracker", timeout=10).json()
    seen = tracker["latest_message"]["text"]
    assert "<" not in seen and "alert" not in seen and "hello" in seen
    assert tracker["latest_message"]["intent"]["name"] == "greet"


@pytest.mark.parametrize("body,expected", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"sender": "x"}', 'missing "message"'),
    (b'{"sender": "x", "message": 42}', '"message" must be a string'),
    (b'{"sender": "x", "message": ["hi"]}', '"message" must be a string'),
    (b'{"sender": {"id": 1}, "message": "hi"}', '"sender" must be a string'),
    (b'{"sender": "x", "message": "hi", "metadata": "oops"}', '"metadata" must be a JSON object'),
    (b"", "JSON object"),
])
def test_malformed_requests_get_400_with_json_error(rasa_server, body, expected):
    r = requests.post(f"{rasa_server.url}/webhooks/rest/webhook", data=body,
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400
    assert expected in r.json()["error"]
    assert "Traceback" not in r.text


def test_empty_message_gets_friendly_reply(rasa_server, input_guard):
    r = ask(rasa_server, "   ")
    assert r.status_code == 200
    assert texts(r.json()) == [input_guard.check("").reply]


def test_missing_sender_is_not_the_shared_default_conversation(rasa_server):
    requests.post(f"{rasa_server.url}/webhooks/rest/webhook", json={"message": "hello"}, timeout=30)
    tracker = requests.get(f"{rasa_server.url}/conversations/rest:default/tracker", timeout=10).json()
    assert not [e for e in tracker.get("events", []) if e.get("event") == "user"]


def test_100kb_message_gets_shorten_reply_quickly_and_memory_stays_flat(rasa_server, input_guard):
    big = ("baclofen side effects " * 5000)[:100_000]
    expected = input_guard.check(big.strip()).reply
    assert input_guard.check(big).outcome == "too_long"
    ask(rasa_server, big)  # warm-up
    before = rasa_server.rss_kib()
    durations = []
    for _ in range(20):
        start = time.monotonic()
        r = ask(rasa_server, big)
        durations.append(time.monotonic() - start)
        assert r.status_code == 200 and texts(r.json()) == [expected]
    after = rasa_server.rss_kib()
    assert max(durations) < 2.0, durations
    assert after - before < 30 * 1024, f"RSS grew {after - before} KiB over 20 messages of 100 KB"


def test_stream_mode_is_kept(rasa_server):
    r = ask(rasa_server, QUESTION, stream="true")
    assert r.status_code == 200
    lines = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    assert_answer_with_disclaimer(texts(lines))


def test_action_server_stopped_gives_apology_not_empty_list(rasa_server):
    rasa_server.stop_actions()
    try:
        r = ask(rasa_server, QUESTION)
        assert r.status_code == 200
        assert texts(r.json()) == [APOLOGY]
        # replies that need no action server still work
        assert texts(ask(rasa_server, "hello").json())[0].startswith("Hello")
    finally:
        rasa_server.start_actions()
    assert_answer_with_disclaimer(texts(ask(rasa_server, QUESTION).json()))


def test_hanging_action_server_gives_apology_within_turn_timeout(rasa_server):
    """An action server that accepts connections but never answers (Rasa would wait 5 min)."""
    rasa_server.stop_actions()
    hung = socket.socket()
    hung.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hung.bind(("127.0.0.1", rasa_server.actions_port))
    hung.listen(16)  # never accept(): requests hang
    try:
        start = time.monotonic()
        r = ask(rasa_server, QUESTION)
        elapsed = time.monotonic() - start
        assert texts(r.json()) == [APOLOGY]
        assert rasa_server.turn_timeout - 1 < elapsed < rasa_server.turn_timeout + 10
    finally:
        hung.close()
        rasa_server.start_actions()


# --- socket.io (the web widget) -------------------------------------------------------


class Widget:
    """A socket.io client speaking the widget's protocol (session_persistence: true)."""

    def __init__(self, url: str) -> None:
        import socketio

        self.client = socketio.Client()
        self.received: List[Dict[str, Any]] = []
        self.session_id = uuid.uuid4().hex
        self.confirmed = threading.Event()
        self.client.on("bot_uttered", lambda data: self.received.append(data))
        self.client.on("session_confirm", lambda _: self.confirmed.set())
        self.client.connect(url, socketio_path="/socket.io", transports=["polling"])
        self.client.emit("session_request", {"session_id": self.session_id})
        assert self.confirmed.wait(10)

    def say(self, message: Any, wait_for: int = 1, timeout: float = 30) -> List[Dict[str, Any]]:
        start = len(self.received)
        self.client.emit("user_uttered", {"message": message, "session_id": self.session_id})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.received) - start < wait_for:
            time.sleep(0.05)
        time.sleep(0.5)  # let the rest of the turn arrive
        return self.received[start:]

    def close(self) -> None:
        self.client.disconnect()


@pytest.fixture
def widget(rasa_server):
    w = Widget(rasa_server.url)
    yield w
    w.close()


def test_socketio_question_and_buttons(widget):
    assert_answer_with_disclaimer(texts(widget.say(QUESTION, wait_for=2)))
    greeting = widget.say("hello")
    assert greeting[-1]["quick_replies"] and greeting[-1]["quick_replies"][0]["payload"].startswith("/")


def test_socketio_guard_and_malformed_events(widget, input_guard):
    big = "x" * 100_000
    assert texts(widget.say(big)) == [input_guard.check(big).reply]
    assert texts(widget.say(12345)) == [input_guard.check("").reply]  # non-string message
    widget.client.emit("user_uttered", "not an object")  # ignored, must not break the server
    assert_answer_with_disclaimer(texts(widget.say(QUESTION, wait_for=2)))
