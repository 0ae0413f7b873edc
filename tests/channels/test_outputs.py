"""Each connector's output channel, talking HTTP to a local fake of its platform API.

The real client libraries (aiogram, twilio, slack_sdk, fbmessenger) make the calls;
only the platform on the other end is fake.
"""

from __future__ import annotations

import asyncio
import json
from typing import Iterator

import pytest

from actions.compose import disclaimer
from channels.facebook import GuardedMessengerBot, graph_client
from channels.formatting import ButtonMemory, utf16_len
from channels.slack import GuardedSlackBot
from channels.telegram import GuardedTelegramOutput
from channels.twilio import GuardedTwilioOutput
from tests.channels.fake_platforms import FakePlatforms

DISCLAIMER = disclaimer("clinician")
BUTTONS = [
    {"title": "Side effects", "payload": "/ask_side_effects"},
    {"title": "Usual dose", "payload": "/ask_dosage"},
    {"title": "Other medicines", "payload": "/ask_interactions"},
]
LONG = "\n\n".join(
    f"Point {i}: baclofen may cause drowsiness, dizziness, weakness or tiredness, "
    "and stopping it suddenly can be dangerous. " * 4 for i in range(30)
) + f"\nSource: Baclofen tablets label\n\n{DISCLAIMER}"


def telegram_send(out: GuardedTelegramOutput, coro) -> None:
    """Run one send, then close aiogram's HTTP session."""

    async def go() -> None:
        try:
            await coro
        finally:
            await out.session.close()

    asyncio.run(go())


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    server = FakePlatforms().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _clear(fake: FakePlatforms) -> None:
    fake.clear()


def test_telegram_splits_at_4096_utf16_and_keeps_disclaimer_last(fake):
    out = GuardedTelegramOutput("123456:TESTtoken", api_base_url=fake.url)
    telegram_send(out, out.send_text_message("42", LONG))
    texts = fake.texts("telegram", "42")
    assert utf16_len(LONG) > 4096 and len(texts) >= 2
    assert all(utf16_len(t) <= 4096 for t in texts)
    assert texts[-1].endswith(DISCLAIMER)
    assert " ".join(texts).split() == LONG.split()


def test_telegram_buttons_are_an_inline_keyboard_one_per_row(fake):
    out = GuardedTelegramOutput("123456:TESTtoken", api_base_url=fake.url)
    telegram_send(out, out.send_text_with_buttons("42", "What would you like to know?", BUTTONS))
    (call,) = fake.messages("telegram", "42")
    keyboard = json.loads(call.params["reply_markup"])["inline_keyboard"]
    assert keyboard == [[{"text": b["title"], "callback_data": b["payload"]}] for b in BUTTONS]


def test_telegram_long_payload_falls_back_to_numbered_options(fake):
    memory = ButtonMemory()
    out = GuardedTelegramOutput("123456:TESTtoken", api_base_url=fake.url, memory=memory)
    buttons = BUTTONS[:1] + [{"title": "Oxycodone", "payload": '/ask_interactions{"drug": ["' + "x" * 70 + '"]}'}]
    telegram_send(out, out.send_text_with_buttons("42", "Which one?", buttons))
    (call,) = fake.messages("telegram", "42")
    assert "reply_markup" not in call.params
    assert call.text.endswith("1. Side effects\n2. Oxycodone\nReply 1 or 2, or type your question.")
    assert memory.resolve("42", "2") == buttons[1]["payload"]


def test_twilio_sms_splits_at_1600_with_disclaimer_last(fake):
    out = GuardedTwilioOutput("AC" + "1" * 32, "authtoken", "+15005550006", api_base_url=fake.url)
    asyncio.run(out.send_text_message("+15551230000", LONG))
    calls = fake.messages("twilio", "+15551230000")
    assert len(calls) >= 3 and all(len(c.text) <= 1600 for c in calls)
    assert calls[-1].text.endswith(DISCLAIMER)
    assert {c.params["From"] for c in calls} == {"+15005550006"}
    assert calls[0].headers.get("Authorization", "").startswith("Basic ")


def test_twilio_whatsapp_answers_from_the_whatsapp_number(fake):
    out = GuardedTwilioOutput("AC" + "1" * 32, "authtoken", "+14155238886", api_base_url=fake.url)
    asyncio.run(out.send_text_message("whatsapp:+15551230000", "Hello"))
    (call,) = fake.messages("twilio", "whatsapp:+15551230000")
    assert call.params["From"] == "whatsapp:+14155238886" and call.text == "Hello"


def test_twilio_buttons_become_numbered_options_and_are_remembered(fake):
    memory = ButtonMemory()
    out = GuardedTwilioOutput("AC" + "1" * 32, "authtoken", "+15005550006", memory=memory, api_base_url=fake.url)
    asyncio.run(out.send_text_with_buttons("+15551230000", "What would you like to know?", BUTTONS))
    assert fake.texts("twilio") == [
        "What would you like to know?\n\n1. Side effects\n2. Usual dose\n3. Other medicines\n"
        "Reply 1, 2 or 3, or type your question."]
    assert memory.resolve("+15551230000", "3") == "/ask_interactions"


def test_twilio_plain_reply_forgets_old_options(fake):
    memory = ButtonMemory()
    out = GuardedTwilioOutput("AC" + "1" * 32, "authtoken", "+15005550006", memory=memory, api_base_url=fake.url)
    asyncio.run(out.send_text_with_buttons("+1555", "Pick", BUTTONS))
    asyncio.run(out.send_text_message("+1555", "Something else"))
    assert memory.resolve("+1555", "1") is None


def test_slack_uses_blocks_of_at_most_3000(fake):
    out = GuardedSlackBot("xoxb-test", api_base_url=fake.url + "/api/")
    asyncio.run(out.send_text_message("U123", LONG))
    calls = fake.messages("slack", "U123")
    assert len(calls) == 1  # under 40,000 chars: one message of several blocks
    blocks = calls[0].params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert len(blocks) > 1 and all(len(b["text"]["text"]) <= 3000 for b in blocks)
    assert blocks[-1]["text"]["text"].endswith(DISCLAIMER)
    assert calls[0].headers.get("Authorization") == "Bearer xoxb-test"


def test_slack_more_than_five_buttons_become_numbered(fake):
    memory = ButtonMemory()
    out = GuardedSlackBot("xoxb-test", memory=memory, api_base_url=fake.url + "/api/")
    many = [{"title": f"Topic {i}", "payload": f"/ask_{i}"} for i in range(6)]
    asyncio.run(out.send_text_with_buttons("U123", "Pick a topic", many))
    (call,) = fake.messages("slack", "U123")
    assert "6. Topic 5" in call.text and memory.resolve("U123", "6") == "/ask_5"
    asyncio.run(out.send_text_with_buttons("U123", "Pick", BUTTONS))
    blocks = fake.messages("slack", "U123")[-1].params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert [e["value"] for e in blocks[-1]["elements"]] == [b["payload"] for b in BUTTONS]


def test_messenger_splits_at_2000_and_puts_quick_replies_last(fake):
    out = GuardedMessengerBot(graph_client("PAGE_TOKEN", fake.url))
    asyncio.run(out.send_text_with_buttons("PSID1", LONG, BUTTONS))
    calls = fake.messages("facebook", "PSID1")
    assert len(calls) > 1 and all(len(c.text) <= 2000 for c in calls)
    assert calls[-1].text.endswith(DISCLAIMER)
    assert [q["payload"] for q in calls[-1].params["message"]["quick_replies"]] == [b["payload"] for b in BUTTONS]
    assert all("quick_replies" not in c.params["message"] for c in calls[:-1])


def test_messenger_long_titles_become_numbered_options(fake):
    memory = ButtonMemory()
    out = GuardedMessengerBot(graph_client("PAGE_TOKEN", fake.url), memory)
    buttons = [{"title": "What happens if I miss a dose?", "payload": "/ask_missed_dose"}]
    asyncio.run(out.send_text_with_buttons("PSID1", "Next?", buttons))
    (call,) = fake.messages("facebook", "PSID1")
    assert "1. What happens if I miss a dose?" in call.text
    assert memory.resolve("PSID1", "1") == "/ask_missed_dose"
