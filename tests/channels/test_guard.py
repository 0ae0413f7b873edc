"""The guard around on_new_message (channels/guard.py).

`handler` stands in for Rasa's agent here; tests/channels/test_integration.py runs the
same guard inside a real Rasa server.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage

from channels.formatting import ButtonMemory
from channels.guard import APOLOGY, guard_on_new_message, prepare

BUTTONS = [{"title": "Side effects", "payload": "/ask_side_effects"},
           {"title": "Usual dose", "payload": "/ask_dosage"}]


class Recorder:
    """Records what reaches 'NLU' and optionally replies, stays silent, fails or hangs."""

    def __init__(self, behaviour: str = "reply") -> None:
        self.behaviour = behaviour
        self.seen: List[Optional[str]] = []

    async def __call__(self, message: UserMessage) -> None:
        self.seen.append(message.text)
        if self.behaviour == "reply":
            await message.output_channel.send_response(message.sender_id, {"text": f"echo: {message.text}"})
        elif self.behaviour == "two":
            for text in ("Fact.\nSource: A", "ℹ️ Please contact your clinician."):
                await message.output_channel.send_response(message.sender_id, {"text": text})
        elif self.behaviour == "raise":
            raise RuntimeError("action server exploded")
        elif self.behaviour == "hang":
            await asyncio.sleep(60)


def run(handler: Recorder, text: Optional[str], **guard_kwargs: Any) -> List[Dict[str, Any]]:
    collector = CollectingOutputChannel()
    guard_kwargs.setdefault("channel", "rest")
    guarded = guard_on_new_message(handler, **guard_kwargs)
    asyncio.run(guarded(UserMessage(text, collector, "user-1", input_channel="rest")))
    return collector.messages


def texts(messages: List[Dict[str, Any]]) -> List[str]:
    return [m.get("text", "") for m in messages]


def test_ordinary_message_reaches_nlu_and_its_reply_is_sent():
    handler = Recorder()
    assert texts(run(handler, "what is baclofen?")) == ["echo: what is baclofen?"]
    assert handler.seen == ["what is baclofen?"]


def test_too_long_message_gets_guard_reply_and_never_reaches_nlu(input_guard, monkeypatch):
    monkeypatch.delenv("BACLOFEN_MAX_MESSAGE_CHARS", raising=False)
    handler = Recorder()
    text = "baclofen " * 12_000  # ~100 KB
    messages = run(handler, text)
    assert handler.seen == []
    assert texts(messages) == [input_guard.check(text.strip()).reply]
    assert input_guard.check(text).outcome == "too_long"


def test_limit_follows_the_environment(monkeypatch, input_guard):
    monkeypatch.setenv("BACLOFEN_MAX_MESSAGE_CHARS", "50")
    handler = Recorder()
    run(handler, "x" * 60)
    assert handler.seen == []
    run(handler, "x" * 40)
    assert handler.seen == ["x" * 40]


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_or_missing_text_gets_guard_reply(text, input_guard):
    handler = Recorder()
    messages = run(handler, text)
    assert handler.seen == []
    assert texts(messages) == [input_guard.check(text).reply]
    assert input_guard.check(text).outcome in ("empty", "no_text")


def test_markup_is_stripped_before_nlu():
    handler = Recorder()
    run(handler, "<b>side effects</b> of baclofen<script>alert('x')</script>")
    assert len(handler.seen) == 1
    seen = handler.seen[0]
    assert "<" not in seen and "alert" not in seen
    assert "side effects" in seen and "baclofen" in seen


def test_markup_only_message_is_not_sent_to_nlu():
    handler = Recorder()
    messages = run(handler, "<script>alert('x')</script>")
    assert handler.seen == [] and len(messages) == 1 and messages[0]["text"] != APOLOGY


@pytest.mark.parametrize("payload", ["/ask_dosage", '/ask_interactions{"drug": ["oxycodone"]}',
                                     '/ask_dosage{"form": "<intrathecal>"}'])
def test_offered_button_payloads_pass_unchanged(payload):
    async def offered(conversation: str) -> frozenset:
        assert conversation == "rest:user-1"
        return frozenset({payload})

    handler = Recorder()
    run(handler, payload, offers=offered)
    assert handler.seen == [payload]


def test_silent_turn_gets_the_apology():
    assert texts(run(Recorder("silent"), "what is baclofen?")) == [APOLOGY]


def test_failing_turn_gets_the_apology_and_no_exception_escapes():
    assert texts(run(Recorder("raise"), "what is baclofen?")) == [APOLOGY]


def test_slow_turn_is_cut_off_with_the_apology(monkeypatch):
    monkeypatch.setenv("BACLOFEN_TURN_TIMEOUT_SECONDS", "0.2")
    assert texts(run(Recorder("hang"), "what is baclofen?")) == [APOLOGY]


def test_restart_payload_may_be_silent():
    assert run(Recorder("silent"), "/restart") == []


def test_apology_text_is_the_agreed_one():
    assert APOLOGY.startswith("Sorry — I can't answer right now.")
    assert "911" in APOLOGY and "1-800-222-1222" in APOLOGY and "clinician or pharmacist" in APOLOGY


def test_typed_number_becomes_the_offered_payload():
    memory = ButtonMemory()
    memory.remember("user-1", BUTTONS)
    handler = Recorder()
    run(handler, "2", memory=memory)
    run(handler, "2", memory=memory)  # options used up: now just text
    assert handler.seen == ["/ask_dosage", "2"]


class RawOutput(OutputChannel):
    """Keeps each send_response as is (the REST collector splits texts at blank lines)."""

    def __init__(self) -> None:
        self.sent: List[Dict[str, Any]] = []

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        self.sent.append(message)


def test_merged_turn_is_sent_once_at_the_end():
    output = RawOutput()
    guarded = guard_on_new_message(Recorder("two"), merge_turn=True, channel="twilio")
    asyncio.run(guarded(UserMessage("side effects?", output, "user-1")))
    assert texts(output.sent) == ["Fact.\nSource: A\n\nℹ️ Please contact your clinician."]


class BrokenOutput(OutputChannel):
    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        raise ConnectionError("platform API unreachable")


def test_unreachable_platform_does_not_raise():
    guarded = guard_on_new_message(Recorder(), channel="rest")
    asyncio.run(guarded(UserMessage("hello", BrokenOutput(), "user-1")))  # no exception


def test_prepare_reports_outcomes(input_guard):
    assert prepare("hi", "s").text == "hi"
    assert prepare("", "s").outcome == input_guard.check("").outcome
    assert prepare("/greet", "s").outcome == "payload"


def test_the_conversation_is_namespaced_by_channel_and_replies_reach_the_platform_id():
    seen: List[str] = []

    async def handler(message: UserMessage) -> None:
        seen.append(message.sender_id)
        await message.output_channel.send_response(message.sender_id, {"text": "hi"})

    collector = CollectingOutputChannel()
    guarded = guard_on_new_message(handler, channel="rest")
    asyncio.run(guarded(UserMessage("hello", collector, "user-1", input_channel="socketio")))
    assert seen == ["rest:user-1"]  # the channel's own name, never the client's input_channel
    assert [m["recipient_id"] for m in collector.messages] == ["user-1"]


def test_a_payload_is_honoured_only_when_offered(input_guard):
    payload = '/ask_interactions{"drug": "xanax"}'
    assert prepare(payload, "s", offered={payload}).text == payload
    assert prepare(payload, "s").text == 'ask_interactions{"drug": "xanax"}'
    assert prepare("  <b></b>/" + payload, "s").text.startswith("ask_interactions")
    assert prepare("/session_start", "s").text == "session_start"
    assert prepare("/", "s").reply is not None  # nothing left to read: the guard's reply
    assert prepare("/restart", "s").text == "/restart"


def test_typed_payloads_reach_the_handler_as_text():
    async def nothing_offered(conversation: str) -> frozenset:
        return frozenset()

    handler = Recorder()
    run(handler, "/ask_dosage", offers=nothing_offered)
    assert handler.seen == ["ask_dosage"]
