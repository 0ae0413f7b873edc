"""Telegram, Twilio, Slack and Messenger webhooks into a real Rasa server.

Requests are shaped and signed like the platforms' own; replies go through the real
client libraries to the FakePlatforms server, where we read what the user would see.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import uuid
from typing import Any, Dict, List
from urllib.parse import urlencode

import pytest
import requests

from actions.compose import DISCLAIMER_MARK
from channels.guard import APOLOGY
from tests.channels.rasa_server import PUBLIC_BASE, SECRETS

pytestmark = pytest.mark.stack

QUESTION = "what are the side effects of baclofen?"


def assert_answer_with_disclaimer(messages: List[str]) -> None:
    assert messages, "nothing was sent to the platform"
    lines = "\n".join(messages).strip().split("\n")
    assert lines[-1].startswith(DISCLAIMER_MARK), messages
    assert "Source:" in "\n".join(messages)
    assert APOLOGY not in messages


# --- Telegram ---------------------------------------------------------------------------

def telegram_update(chat_id: int, text: str = None, **extra: Any) -> Dict[str, Any]:
    message: Dict[str, Any] = {
        "message_id": random.randint(1, 10**6), "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Pat"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "Pat", "language_code": "en"},
    }
    if text is not None:
        message["text"] = text
    message.update(extra)
    return {"update_id": random.randint(1, 10**9), "message": message}


def telegram_post(server, update: Dict[str, Any], secret: str = SECRETS["TELEGRAM_SECRET_TOKEN"]) -> requests.Response:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return requests.post(f"{server.url}/webhooks/telegram/webhook", json=update, headers=headers, timeout=60)


def test_telegram_webhook_registered_with_secret(rasa_server, fake_platforms):
    calls = fake_platforms.api_calls("telegram", "setWebhook")
    assert calls, "setWebhook was not called at start-up"
    assert calls[-1].params["url"] == f"{PUBLIC_BASE}/webhooks/telegram/webhook"
    assert calls[-1].params["secret_token"] == SECRETS["TELEGRAM_SECRET_TOKEN"]
    assert SECRETS["TELEGRAM_TOKEN"] in calls[-1].path


def test_telegram_question_answered_with_disclaimer(rasa_server, fake_platforms):
    chat = random.randint(10**6, 10**9)
    r = telegram_post(rasa_server, telegram_update(chat, QUESTION))
    assert r.status_code == 200
    assert_answer_with_disclaimer(fake_platforms.wait_for_texts("telegram", str(chat), count=2))


def test_telegram_start_greets_with_buttons_and_button_press_answers(rasa_server, fake_platforms):
    chat = random.randint(10**6, 10**9)
    telegram_post(rasa_server, telegram_update(chat, "/start"))
    fake_platforms.wait_for_texts("telegram", str(chat))
    greeting = fake_platforms.messages("telegram", str(chat))[-1]
    keyboard = json.loads(greeting.params["reply_markup"])["inline_keyboard"]
    assert [row[0]["callback_data"] for row in keyboard][:2] == ["/ask_side_effects", "/ask_dosage"]
    press = {"update_id": random.randint(1, 10**9), "callback_query": {
        "id": "cbq-1", "from": {"id": chat, "is_bot": False, "first_name": "Pat"},
        "message": {"message_id": 5, "date": int(time.time()), "chat": {"id": chat, "type": "private"},
                    "text": greeting.text}, "chat_instance": "-99", "data": "/ask_dosage"}}
    assert telegram_post(rasa_server, press).status_code == 200
    texts = fake_platforms.wait_for_texts("telegram", str(chat), count=3)
    assert_answer_with_disclaimer(texts[1:])
    assert [c.params["callback_query_id"] for c in fake_platforms.api_calls("telegram", "answerCallbackQuery")
            ].count("cbq-1") == 1


@pytest.mark.parametrize("secret,status", [(None, 401), ("", 401), ("wrong-secret", 403)])
def test_telegram_rejects_missing_or_wrong_secret(rasa_server, fake_platforms, secret, status):
    chat = random.randint(10**6, 10**9)
    r = telegram_post(rasa_server, telegram_update(chat, QUESTION), secret=secret)
    assert r.status_code == status
    time.sleep(1)
    assert fake_platforms.texts("telegram", str(chat)) == []


def test_telegram_sticker_and_huge_text_get_guard_replies(rasa_server, fake_platforms, input_guard):
    chat = random.randint(10**6, 10**9)
    telegram_post(rasa_server, telegram_update(chat, None, sticker={"file_id": "x", "width": 512, "height": 512}))
    big = "x" * 4000
    telegram_post(rasa_server, telegram_update(chat, big))
    assert fake_platforms.wait_for_texts("telegram", str(chat), count=2) == [
        input_guard.check(None).reply, input_guard.check(big).reply]


def test_telegram_malformed_body_is_400(rasa_server):
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRETS["TELEGRAM_SECRET_TOKEN"],
               "Content-Type": "application/json"}
    r = requests.post(f"{rasa_server.url}/webhooks/telegram/webhook", data=b"{oops", headers=headers, timeout=30)
    assert r.status_code == 400 and "Traceback" not in r.text


# --- Twilio (SMS and WhatsApp) ------------------------------------------------------------

TWILIO_URL = f"{PUBLIC_BASE}/webhooks/twilio/webhook"


def twilio_form(sender: str, body: str, to: str = SECRETS["TWILIO_NUMBER"]) -> Dict[str, str]:
    sid = "SM" + uuid.uuid4().hex
    form = {"ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "",
            "FromZip": "94030", "SmsSid": sid, "FromState": "CA", "SmsStatus": "received", "FromCity": "SAN BRUNO",
            "Body": body, "FromCountry": "US", "To": to, "ToZip": "", "NumSegments": "1", "MessageSid": sid,
            "AccountSid": SECRETS["TWILIO_ACCOUNT_SID"], "From": sender, "ApiVersion": "2010-04-01"}
    if sender.startswith("whatsapp:"):
        form.update(ProfileName="Pat", WaId=sender.split("+")[-1])
    return form


def twilio_sign(url: str, form: Dict[str, str], token: str = SECRETS["TWILIO_AUTH_TOKEN"]) -> str:
    data = url + "".join(f"{k}{form[k]}" for k in sorted(form))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def twilio_post(server, form: Dict[str, str], signature: str = "sign") -> requests.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature == "sign":
        signature = twilio_sign(TWILIO_URL, form)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return requests.post(f"{server.url}/webhooks/twilio/webhook", data=urlencode(form), headers=headers, timeout=60)


def new_phone() -> str:
    return f"+1555{random.randint(10**6, 10**7 - 1)}"


def test_twilio_sms_question_is_one_body_ending_with_disclaimer(rasa_server, fake_platforms):
    phone = new_phone()
    assert twilio_post(rasa_server, twilio_form(phone, QUESTION)).status_code == 204
    bodies = fake_platforms.wait_for_texts("twilio", phone)
    assert all(len(b) <= 1600 for b in bodies)
    assert_answer_with_disclaimer(bodies)
    for body, following in zip(bodies, bodies[1:]):  # merged: a body ends only when the next line won't fit
        assert len(body) + 1 + len(following.split("\n")[0]) > 1600
    rest = requests.post(f"{rasa_server.url}/webhooks/rest/webhook", json={"sender": phone + "-rest", "message": QUESTION},
                         timeout=60).json()
    assert len(bodies) < len(rest)  # the same reply is several messages on REST
    assert {c.params["From"] for c in fake_platforms.messages("twilio", phone)} == {SECRETS["TWILIO_NUMBER"]}


def test_twilio_numbered_options_and_typed_number(rasa_server, fake_platforms):
    phone = new_phone()
    twilio_post(rasa_server, twilio_form(phone, "hello"))
    (greeting,) = fake_platforms.wait_for_texts("twilio", phone)
    assert "1. Side effects\n2. Usual dose" in greeting
    assert "Reply 1, 2, 3 or 4" in greeting
    twilio_post(rasa_server, twilio_form(phone, "2"))
    answer = fake_platforms.wait_for_texts("twilio", phone, count=2)[1:]
    assert_answer_with_disclaimer(answer)
    sender_tracker = requests.get(f"{rasa_server.url}/conversations/twilio:{phone}/tracker", timeout=10).json()
    assert sender_tracker["latest_message"]["text"] == "/ask_dosage"


def test_twilio_whatsapp_reply_comes_from_whatsapp_number(rasa_server, fake_platforms):
    phone = "whatsapp:" + new_phone()
    assert twilio_post(rasa_server, twilio_form(phone, QUESTION, to="whatsapp:+15005550006")).status_code == 204
    assert_answer_with_disclaimer(fake_platforms.wait_for_texts("twilio", phone))
    assert {c.params["From"] for c in fake_platforms.messages("twilio", phone)} == {"whatsapp:+15005550006"}


def test_twilio_rejects_unsigned_and_wrongly_signed(rasa_server, fake_platforms):
    phone = new_phone()
    form = twilio_form(phone, QUESTION)
    local_url = f"{rasa_server.url}/webhooks/twilio/webhook"
    for signature in (None, "", "bm90IGEgc2lnbmF0dXJl", twilio_sign(TWILIO_URL, form, token="other-token"),
                      twilio_sign(local_url, form)):  # signed for the wrong (internal) URL
        assert twilio_post(rasa_server, form, signature=signature).status_code == 403
    tampered = dict(form, Body="hello")
    assert twilio_post(rasa_server, tampered, signature=twilio_sign(TWILIO_URL, form)).status_code == 403
    time.sleep(1)
    assert fake_platforms.texts("twilio", phone) == []


def test_twilio_huge_sms_gets_shorten_reply(rasa_server, fake_platforms, input_guard):
    phone = new_phone()
    big = "baclofen " * 500
    twilio_post(rasa_server, twilio_form(phone, big))
    assert fake_platforms.wait_for_texts("twilio", phone) == [input_guard.check(big.strip()).reply]


# --- Slack ---------------------------------------------------------------------------------

def slack_headers(body: bytes, secret: str = SECRETS["SLACK_SIGNING_SECRET"], ts: int = None,
                  content_type: str = "application/json") -> Dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": str(ts), "Content-Type": content_type}


def slack_event(user: str, channel: str, text: str) -> bytes:
    ts = f"{time.time():.6f}"
    return json.dumps({
        "token": "verification-token", "team_id": "T0001", "api_app_id": "A0001", "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:10], "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": "T0001", "user_id": "UBOT", "is_bot": True}],
        "event": {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
                  "event_ts": ts, "channel_type": "im"},
    }).encode()


def test_slack_signed_event_answered_with_disclaimer(rasa_server, fake_platforms):
    channel = "D" + uuid.uuid4().hex[:8].upper()
    body = slack_event("U1234", channel, QUESTION)
    r = requests.post(f"{rasa_server.url}/webhooks/slack/webhook", data=body, headers=slack_headers(body), timeout=30)
    assert r.status_code == 200
    texts = fake_platforms.wait_for_texts("slack", channel, count=2)
    assert_answer_with_disclaimer(texts)
    call = fake_platforms.messages("slack", channel)[-1]
    assert call.headers["Authorization"] == f"Bearer {SECRETS['SLACK_TOKEN']}"
    assert all(len(b["text"]["text"]) <= 3000 for b in call.params["blocks"])


def test_slack_button_click_payload_passes_unchanged(rasa_server, fake_platforms):
    channel = "D" + uuid.uuid4().hex[:8].upper()
    # The greeting offers the buttons: only an offered payload is obeyed (channels/guard.py).
    hello = slack_event("U777", channel, "hello")
    requests.post(f"{rasa_server.url}/webhooks/slack/webhook", data=hello, headers=slack_headers(hello), timeout=30)
    fake_platforms.wait_for_texts("slack", channel)
    payload = {"type": "block_actions", "user": {"id": "U777"}, "channel": {"id": channel},
               "message": {"ts": f"{time.time():.6f}"},
               "actions": [{"type": "button", "action_id": "a1", "value": "/ask_dosage",
                            "text": {"type": "plain_text", "text": "Usual dose"}}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = slack_headers(body, content_type="application/x-www-form-urlencoded")
    assert requests.post(f"{rasa_server.url}/webhooks/slack/webhook", data=body, headers=headers,
                         timeout=30).status_code == 200
    assert_answer_with_disclaimer(fake_platforms.wait_for_texts("slack", channel, count=3)[1:])


@pytest.mark.parametrize("variant", ["wrong secret", "stale timestamp", "unsigned"])
def test_slack_rejects_bad_signatures(rasa_server, fake_platforms, variant):
    channel = "D" + uuid.uuid4().hex[:8].upper()
    body = slack_event("U1234", channel, QUESTION)
    headers = {"wrong secret": slack_headers(body, secret="not-the-secret"),
               "stale timestamp": slack_headers(body, ts=int(time.time()) - 600),
               "unsigned": {"Content-Type": "application/json"}}[variant]
    r = requests.post(f"{rasa_server.url}/webhooks/slack/webhook", data=body, headers=headers, timeout=30)
    assert r.status_code == 400  # Rasa's own check
    time.sleep(1)
    assert fake_platforms.texts("slack", channel) == []


def test_slack_signed_but_malformed_request_gets_json_error_without_trace(rasa_server):
    body = b"payload=%7Bnot-json"
    headers = slack_headers(body, content_type="application/x-www-form-urlencoded")
    r = requests.post(f"{rasa_server.url}/webhooks/slack/webhook", data=body, headers=headers, timeout=30)
    assert r.status_code == 500 and r.json() == {"error": "internal error"}


# --- Facebook Messenger -----------------------------------------------------------------------

def messenger_event(psid: str, message: Dict[str, Any]) -> bytes:
    now = int(time.time() * 1000)
    return json.dumps({"object": "page", "entry": [{"id": "PAGE1", "time": now, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": "PAGE1"}, "timestamp": now,
        "message": {"mid": "m_" + uuid.uuid4().hex, **message}}]}]}).encode()


def messenger_post(server, body: bytes, headers: Dict[str, str]) -> requests.Response:
    return requests.post(f"{server.url}/webhooks/facebook/webhook", data=body,
                         headers={"Content-Type": "application/json", **headers}, timeout=60)


def meta_sig(body: bytes, algorithm=hashlib.sha256, secret: str = SECRETS["FACEBOOK_APP_SECRET"]) -> str:
    return hmac.new(secret.encode(), body, algorithm).hexdigest()


def test_messenger_sha256_signed_message_answered(rasa_server, fake_platforms):
    psid = str(random.randint(10**15, 10**16))
    body = messenger_event(psid, {"text": QUESTION})
    r = messenger_post(rasa_server, body, {"X-Hub-Signature-256": "sha256=" + meta_sig(body)})
    assert r.status_code == 200
    assert_answer_with_disclaimer(fake_platforms.wait_for_texts("facebook", psid, count=2))
    call = fake_platforms.messages("facebook", psid)[-1]
    assert call.query["access_token"] == SECRETS["FACEBOOK_PAGE_ACCESS_TOKEN"]
    assert all(len(t) <= 2000 for t in fake_platforms.texts("facebook", psid))


def test_messenger_quick_reply_with_legacy_sha1_signature(rasa_server, fake_platforms):
    psid = str(random.randint(10**15, 10**16))
    hello = messenger_event(psid, {"text": "hello"})  # the greeting offers the quick replies
    messenger_post(rasa_server, hello, {"X-Hub-Signature-256": "sha256=" + meta_sig(hello)})
    fake_platforms.wait_for_texts("facebook", psid)
    body = messenger_event(psid, {"text": "Usual dose", "quick_reply": {"payload": "/ask_dosage"}})
    r = messenger_post(rasa_server, body, {"X-Hub-Signature": "sha1=" + meta_sig(body, hashlib.sha1)})
    assert r.status_code == 200
    assert_answer_with_disclaimer(fake_platforms.wait_for_texts("facebook", psid, count=3)[1:])


@pytest.mark.parametrize("headers", [
    {},
    {"X-Hub-Signature-256": "sha256=" + "0" * 64},
    {"X-Hub-Signature-256": "sha256=SIGNED_WITH_OTHER_SECRET"},
    {"X-Hub-Signature": "md5=abc"},
])
def test_messenger_rejects_unsigned_or_wrong(rasa_server, fake_platforms, headers):
    psid = str(random.randint(10**15, 10**16))
    body = messenger_event(psid, {"text": QUESTION})
    if headers.get("X-Hub-Signature-256") == "sha256=SIGNED_WITH_OTHER_SECRET":
        headers = {"X-Hub-Signature-256": "sha256=" + meta_sig(body, secret="other")}
    assert messenger_post(rasa_server, body, headers).status_code == 403
    time.sleep(1)
    assert fake_platforms.texts("facebook", psid) == []


def test_messenger_verification_handshake(rasa_server):
    url = f"{rasa_server.url}/webhooks/facebook/webhook"
    ok = requests.get(url, params={"hub.mode": "subscribe", "hub.verify_token": SECRETS["FACEBOOK_VERIFY_TOKEN"],
                                   "hub.challenge": "1158201444"}, timeout=10)
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = requests.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "guess",
                                    "hub.challenge": "1158201444"}, timeout=10)
    assert bad.status_code == 403 and "1158201444" not in bad.text


def test_messenger_malformed_event_is_400(rasa_server):
    for body in (b'{"object": "page", "entry": [{"messaging": "nope"}]}', b'{"object": "page"}', b"{oops"):
        r = messenger_post(rasa_server, body, {"X-Hub-Signature-256": "sha256=" + meta_sig(body)})
        assert r.status_code == 400 and "Traceback" not in r.text
