"""Webhook authentication: ours (Twilio, Telegram, Messenger SHA-256) and Rasa's (Slack, Messenger SHA-1)."""

from __future__ import annotations

import hashlib
import hmac
import time
from types import SimpleNamespace

import pytest
from rasa.core.channels.facebook import FacebookInput
from rasa.shared.exceptions import InvalidConfigException

from channels.facebook import GuardedFacebookInput, hub_signature_valid
from channels.slack import GuardedSlackInput
from channels.telegram import GuardedTelegramInput
from channels.twilio import FormParams, GuardedTwilioInput, parse_form, signature_valid

# Twilio's documented example (twilio.com/docs/usage/security and twilio-python's tests).
TWILIO_TOKEN = "12345"
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = FormParams({
    "CallSid": ["CA1234567890ABCDE"], "Caller": ["+14158675309"], "Digits": ["1234"],
    "From": ["+14158675309"], "To": ["+18005551212"],
})
TWILIO_EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def twilio_signature(token: str, url: str, params: dict) -> str:
    """Independent re-implementation of Twilio's scheme, for cross-checking."""
    import base64

    data = url + "".join(f"{k}{v}" for k in sorted(params) for v in sorted(set(params[k])))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def test_twilio_documented_example():
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS) == TWILIO_EXPECTED
    assert signature_valid(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, TWILIO_EXPECTED)


@pytest.mark.parametrize("signature", [None, "", "RSOYDt4T1cUTdK1PDd93/VVr8B8", "x" * 28])
def test_twilio_rejects_missing_or_wrong(signature):
    assert not signature_valid(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, signature)


def test_twilio_rejects_tampering():
    tampered = FormParams({**TWILIO_PARAMS, "Digits": ["9999"]})
    assert not signature_valid(TWILIO_TOKEN, TWILIO_URL, tampered, TWILIO_EXPECTED)
    assert not signature_valid(TWILIO_TOKEN, TWILIO_URL.replace("foo=1", "foo=2"), TWILIO_PARAMS, TWILIO_EXPECTED)
    assert not signature_valid("54321", TWILIO_URL, TWILIO_PARAMS, TWILIO_EXPECTED)


def test_twilio_form_keeps_blank_values_for_the_signature():
    params = parse_form(b"Body=&From=%2B15551230000&NumMedia=0&ProfileName=")
    assert params["Body"] == [""] and params["ProfileName"] == [""]
    url = "https://bot.example.org/webhooks/twilio/webhook"
    good = twilio_signature("tok", url, params)
    assert signature_valid("tok", url, params, good)
    without_blanks = FormParams({k: v for k, v in params.items() if v != [""]})
    assert twilio_signature("tok", url, without_blanks) != good


def test_twilio_signed_url_uses_configured_public_url():
    channel = GuardedTwilioInput("AC1", "tok", "+15550006", webhook_url="https://bot.example.org/webhooks/twilio/webhook")
    request = SimpleNamespace(url="http://127.0.0.1:5005/webhooks/twilio/webhook?x=1", query_string="x=1")
    assert channel.signed_url(request) == "https://bot.example.org/webhooks/twilio/webhook?x=1"
    channel.webhook_url = None
    assert channel.signed_url(request) == request.url


@pytest.mark.parametrize("channel,kwargs", [
    (GuardedTwilioInput, {"account_sid": "AC1", "auth_token": None, "twilio_number": "+1555"}),
    (GuardedTelegramInput, {"access_token": "123:abc", "secret_token": None}),
    (GuardedTelegramInput, {"access_token": "123:abc", "secret_token": "bad secret!"}),
    (GuardedFacebookInput, {"fb_verify": "v", "fb_secret": None, "fb_access_token": "t"}),
])
def test_channels_refuse_to_start_without_their_secret(channel, kwargs, monkeypatch):
    for env in ("TWILIO_AUTH_TOKEN", "TELEGRAM_SECRET_TOKEN", "FACEBOOK_APP_SECRET"):
        monkeypatch.delenv(env, raising=False)
    with pytest.raises(InvalidConfigException):
        channel(**kwargs)


def test_slack_refuses_to_start_without_signing_secret(monkeypatch):
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    with pytest.raises(InvalidConfigException):
        GuardedSlackInput.from_credentials({"slack_token": "xoxb-1"})


def test_secrets_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TELEGRAM_TOKEN", "123456:ABCdef")
    monkeypatch.setenv("TELEGRAM_SECRET_TOKEN", "s3cret-token_1")
    channel = GuardedTelegramInput.from_credentials({"access_token": "${TELEGRAM_TOKEN}"})  # quoted: unexpanded
    assert channel.access_token == "123456:ABCdef" and channel.secret_token == "s3cret-token_1"


def test_telegram_secret_header():
    channel = GuardedTelegramInput("123456:ABCdef", "s3cret-token_1")
    assert channel.check_secret("s3cret-token_1") is None
    assert channel.check_secret(None).status == 401
    assert channel.check_secret("").status == 401
    assert channel.check_secret("s3cret-token_2").status == 403


BODY = b'{"object":"page","entry":[]}'


def meta_signature(secret: str, body: bytes, algorithm) -> str:
    return hmac.new(secret.encode(), body, algorithm).hexdigest()


def test_messenger_sha256_signature():
    good = "sha256=" + meta_signature("appsecret", BODY, hashlib.sha256)
    assert hub_signature_valid("appsecret", BODY, good, None)
    assert hub_signature_valid("appsecret", BODY, good.upper().replace("SHA256=", "sha256="), None)
    assert not hub_signature_valid("other", BODY, good, None)
    assert not hub_signature_valid("appsecret", BODY + b" ", good, None)
    # the SHA-256 header wins: a valid SHA-1 one cannot rescue a wrong SHA-256 one
    sha1 = "sha1=" + meta_signature("appsecret", BODY, hashlib.sha1)
    assert not hub_signature_valid("appsecret", BODY, "sha256=" + "0" * 64, sha1)


def test_messenger_sha1_fallback_and_missing():
    sha1 = "sha1=" + meta_signature("appsecret", BODY, hashlib.sha1)
    assert hub_signature_valid("appsecret", BODY, None, sha1)
    assert not hub_signature_valid("appsecret", BODY, None, None)
    assert not hub_signature_valid("appsecret", BODY, None, "md5=" + hashlib.md5(BODY).hexdigest())
    assert not hub_signature_valid("appsecret", BODY, "sha1=" + sha1[5:], None)  # wrong prefix


def test_rasa_messenger_check_exists_sha1_only():
    """What Rasa 3.6 ships: X-Hub-Signature (sha1) via validate_hub_signature; no SHA-256 header."""
    sha1 = "sha1=" + meta_signature("appsecret", BODY, hashlib.sha1)
    assert FacebookInput.validate_hub_signature("appsecret", BODY, sha1)
    assert not FacebookInput.validate_hub_signature("appsecret", BODY, "sha1=" + "0" * 40)
    assert not FacebookInput.validate_hub_signature("appsecret", BODY, "")


def slack_request(secret: str, body: bytes, timestamp: int, signature: str = None):
    basestring = f"v0:{timestamp}:".encode() + body
    sig = signature or "v0=" + hmac.new(secret.encode(), basestring, hashlib.sha256).hexdigest()
    return SimpleNamespace(body=body, headers={"X-Slack-Signature": sig, "X-Slack-Request-Timestamp": str(timestamp)})


def test_rasa_slack_check_exists_and_rejects_replays():
    """Rasa 3.6's SlackInput.is_request_from_slack_authentic, which our Slack channel keeps."""
    channel = GuardedSlackInput.from_credentials({"slack_token": "xoxb-1", "slack_signing_secret": "signsecret"})
    body = b'{"type":"event_callback"}'
    now = int(time.time())
    assert channel.is_request_from_slack_authentic(slack_request("signsecret", body, now))
    assert not channel.is_request_from_slack_authentic(slack_request("wrong", body, now))
    assert not channel.is_request_from_slack_authentic(slack_request("signsecret", body, now - 6 * 60))
    assert not channel.is_request_from_slack_authentic(slack_request("signsecret", body, now, signature="v0=00"))
    missing = SimpleNamespace(body=body, headers={})
    assert not channel.is_request_from_slack_authentic(missing)


def test_telegram_update_parsing():
    from channels.telegram import bot_command, parse_update

    assert parse_update({"message": {"chat": {"id": 7}, "text": "hi"}}) == ("7", "hi", None)
    assert parse_update({"edited_message": {"chat": {"id": 7}, "text": "hi!"}}) == ("7", "hi!", None)
    assert parse_update({"message": {"chat": {"id": 7}, "sticker": {}}}) == ("7", None, None)
    assert parse_update({"callback_query": {"id": "c1", "data": "/ask_dosage",
                                            "message": {"chat": {"id": 7}}}}) == ("7", "/ask_dosage", "c1")
    assert parse_update({"my_chat_member": {}}) is None
    assert parse_update({"message": {"text": "no chat"}}) is None
    assert bot_command("/start@BaclofenBot") == "/start"
    assert bot_command("/ask_dosage") == "/ask_dosage"
    assert bot_command("email me@example.org") == "email me@example.org"
