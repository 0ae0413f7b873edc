"""Twilio channel (SMS and WhatsApp): Rasa's TwilioInput with signature checks and the guard.

Added to Rasa 3.6's connector (which checks nothing, so anyone could post as any phone):
- X-Twilio-Signature is validated with the auth token (twilio.request_validator: base64
  HMAC-SHA1 over the full URL + sorted POST params); unsigned or wrong → 403;
- behind a proxy the URL Twilio signed differs from what the server sees, so set
  `webhook_url` to the exact public URL configured in the Twilio console;
- a turn's messages are sent as one body (separate SMS can arrive out of order), split
  only at Twilio's 1,600-char Body limit, disclaimer kept whole at the end;
- buttons become numbered options ("Reply 1, 2 or 3"); a typed number maps back to the
  payload (channels.formatting.ButtonMemory);
- sending runs in a thread: Twilio's client is blocking and would stall every user;
- a WhatsApp sender ("whatsapp:+1...") is answered from "whatsapp:" + our number.

Settings (credentials.yml key, else environment variable):
  account_sid   TWILIO_ACCOUNT_SID    (required)
  auth_token    TWILIO_AUTH_TOKEN     (required: signs the webhooks)
  twilio_number TWILIO_NUMBER         (required) e.g. +15005550006 (or whatsapp:+14155238886)
  webhook_url   TWILIO_WEBHOOK_URL    public URL of /webhooks/twilio/webhook
  api_base_url  TWILIO_API_BASE_URL   default https://api.twilio.com
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qsl

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.twilio import TwilioInput, TwilioOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from channels.formatting import LIMITS, ButtonMemory, numbered_options, plain_links, split_message
from channels.guard import OnNewMessage, guard_on_new_message, install_error_handler
from channels.settings import required, setting

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
WHATSAPP_PREFIX = "whatsapp:"


class FormParams(dict):
    """POST params as lists per name; RequestValidator reads them with getlist()."""

    def getlist(self, name: str) -> List[str]:
        return self[name]


def parse_form(body: bytes) -> FormParams:
    """All form params, blank values included (Twilio signs those too)."""
    params = FormParams()
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        params.setdefault(name, []).append(value)
    return params


def signature_valid(auth_token: str, url: str, params: FormParams, signature: Optional[str]) -> bool:
    """Twilio's scheme: base64(HMAC-SHA1(auth token, URL + name+value for sorted params))."""
    if not signature:
        return False
    return RequestValidator(auth_token).validate(url, params, signature)


class GuardedTwilioOutput(TwilioOutput):
    """Twilio output: one body per turn chunk, numbered options, non-blocking sends."""

    def __init__(self, account_sid: Optional[str], auth_token: Optional[str], twilio_number: Optional[str],
                 memory: Optional[ButtonMemory] = None, api_base_url: Optional[str] = None) -> None:
        super().__init__(account_sid, auth_token, twilio_number)
        self.memory = memory if memory is not None else ButtonMemory()
        if api_base_url:
            self.api.base_url = api_base_url.rstrip("/")

    def _from_number(self, recipient_id: str) -> Optional[str]:
        number = self.twilio_number
        if number and recipient_id.startswith(WHATSAPP_PREFIX) and not number.startswith(WHATSAPP_PREFIX):
            return WHATSAPP_PREFIX + number
        return number

    async def _send_message(self, message_data: Dict[str, Any]) -> Any:
        try:
            return await asyncio.to_thread(self.messages.create, **message_data)
        except TwilioRestException as e:
            logger.error("Twilio refused the message: %s", e.msg)
            return None

    async def _send_chunks(self, recipient_id: str, text: str) -> None:
        limit = LIMITS["whatsapp"] if recipient_id.startswith(WHATSAPP_PREFIX) else LIMITS["sms"]
        for chunk in split_message(plain_links(text), limit):
            await self._send_message({"to": recipient_id, "from_": self._from_number(recipient_id), "body": chunk})

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.memory.forget(recipient_id)
        await self._send_chunks(recipient_id, text)

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: List[Dict[str, Any]], **kwargs: Any) -> None:
        await self._send_chunks(recipient_id, numbered_options(text, buttons))
        self.memory.remember(recipient_id, buttons)


class GuardedTwilioInput(TwilioInput):
    """Twilio webhook with signature validation and the guard."""

    @classmethod
    def name(cls) -> str:
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "GuardedTwilioInput":
        return cls(
            account_sid=setting(credentials, "account_sid", "TWILIO_ACCOUNT_SID"),
            auth_token=setting(credentials, "auth_token", "TWILIO_AUTH_TOKEN"),
            twilio_number=setting(credentials, "twilio_number", "TWILIO_NUMBER"),
            webhook_url=setting(credentials, "webhook_url", "TWILIO_WEBHOOK_URL"),
            api_base_url=setting(credentials, "api_base_url", "TWILIO_API_BASE_URL"),
        )

    def __init__(self, account_sid: Optional[str], auth_token: Optional[str], twilio_number: Optional[str],
                 webhook_url: Optional[str] = None, api_base_url: Optional[str] = None) -> None:
        required(account_sid, "twilio", "account_sid", "TWILIO_ACCOUNT_SID")
        required(auth_token, "twilio", "auth_token", "TWILIO_AUTH_TOKEN")
        required(twilio_number, "twilio", "twilio_number", "TWILIO_NUMBER")
        super().__init__(account_sid, auth_token, twilio_number, debug_mode=False)
        self.webhook_url = webhook_url
        self.api_base_url = api_base_url
        self.memory = ButtonMemory()

    def get_output_channel(self) -> GuardedTwilioOutput:
        return GuardedTwilioOutput(self.account_sid, self.auth_token, self.twilio_number,
                                   self.memory, self.api_base_url)

    def signed_url(self, request: Request) -> str:
        """The URL Twilio signed: the configured public URL (behind a proxy) or the request's."""
        if not self.webhook_url:
            return request.url
        if request.query_string and "?" not in self.webhook_url:
            return f"{self.webhook_url}?{request.query_string}"
        return self.webhook_url

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint("twilio_webhook", __name__)
        guarded = guard_on_new_message(on_new_message, memory=self.memory, merge_turn=True, channel=self.name())

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            params = parse_form(request.body or b"")
            signature = request.headers.get(SIGNATURE_HEADER)
            if not signature_valid(self.auth_token, self.signed_url(request), params, signature):
                logger.warning("Twilio webhook rejected: %s signature",
                               "wrong" if signature else "missing")
                return response.json({"error": "invalid or missing X-Twilio-Signature"}, status=403)
            sender = (params.get("From") or [""])[0]
            if not sender:
                return response.json({"error": "missing From"}, status=400)
            text: Optional[str] = (params.get("Body") or [None])[0]
            if text is not None:
                text = text.replace("¡", "@")  # some carriers corrupt @ in SMS (as Rasa does)
            if text == "" and (params.get("NumMedia") or ["0"])[0] not in ("", "0"):
                text = None  # a photo or voice note without words
            await guarded(UserMessage(text, self.get_output_channel(), sender,
                                      input_channel=self.name(), metadata=self.get_metadata(request)))
            return response.text("", status=204)

        return install_error_handler(webhook)
