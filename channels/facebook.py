"""Facebook Messenger channel: Rasa's FacebookInput with a stricter signature check and the guard.

Rasa 3.6 checks only X-Hub-Signature (HMAC-SHA1) with a plain `==`, answers a bad
signature with HTTP 200 "not validated", takes the hash name from the header
(any hashlib attribute), and crashes on a missing app secret. Here:
- X-Hub-Signature-256 (HMAC-SHA256, what Meta recommends) is checked when present,
  else X-Hub-Signature (SHA-1); constant-time compare; missing/wrong → 403;
- the app secret is required at start-up; the GET verification compares the verify token
  in constant time and answers 403 on mismatch;
- replies split at 2,000 chars; buttons become quick replies (up to 13, titles up to 20
  chars) on the last chunk, else numbered options; Graph API calls run in a thread with a
  timeout (the fbmessenger client is blocking).

Settings (credentials.yml key, else environment variable):
  verify             FACEBOOK_VERIFY_TOKEN       token you chose for the webhook (required)
  secret             FACEBOOK_APP_SECRET         app secret (required)
  page-access-token  FACEBOOK_PAGE_ACCESS_TOKEN  (required)
  api_base_url       FACEBOOK_API_BASE_URL       default https://graph.facebook.com
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from typing import Any, Dict, List, Optional

from fbmessenger import MessengerClient
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.facebook import FacebookInput, Messenger, MessengerBot
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.formatting import LIMITS, ButtonMemory, numbered_options, plain_links, split_message
from channels.guard import OnNewMessage, guard_on_new_message, install_error_handler
from channels.settings import required, setting

logger = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
GRAPH_TIMEOUT_SECONDS = 15
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20


def hub_signature_valid(app_secret: str, body: bytes, sha256_header: Optional[str],
                        sha1_header: Optional[str]) -> bool:
    """Meta's webhook signature: "sha256=<hex HMAC of the raw body>" (or legacy "sha1=")."""
    if sha256_header:
        algorithm, header = hashlib.sha256, sha256_header
        prefix = "sha256="
    elif sha1_header:
        algorithm, header = hashlib.sha1, sha1_header
        prefix = "sha1="
    else:
        return False
    if not header.startswith(prefix):
        return False
    expected = hmac.new(app_secret.encode("utf-8"), body, algorithm).hexdigest()
    return hmac.compare_digest(expected, header[len(prefix):].strip().lower())


def graph_client(page_access_token: str, api_base_url: Optional[str]) -> MessengerClient:
    client = MessengerClient(page_access_token)
    base = (api_base_url or DEFAULT_GRAPH_URL).rstrip("/")
    client.graph_url = f"{base}/v{client.api_version}"
    return client


class GuardedMessengerBot(MessengerBot):
    """Messenger output: split at 2,000 chars, quick replies or numbered options, no blocking."""

    def __init__(self, messenger_client: MessengerClient, memory: Optional[ButtonMemory] = None) -> None:
        super().__init__(messenger_client)
        self.memory = memory if memory is not None else ButtonMemory()

    async def _post(self, recipient_id: str, payload: Dict[str, Any]) -> None:
        result = await asyncio.to_thread(self.messenger_client.send, payload, recipient_id, "RESPONSE",
                                         timeout=GRAPH_TIMEOUT_SECONDS)
        if isinstance(result, dict) and result.get("error"):
            logger.error("Graph API refused the message: %s", result["error"].get("message"))

    async def _send_chunks(self, recipient_id: str, text: str,
                           quick_replies: Optional[List[Dict[str, Any]]] = None) -> None:
        chunks = split_message(plain_links(text), LIMITS["messenger"]) or [""]
        for i, chunk in enumerate(chunks):
            payload: Dict[str, Any] = {"text": chunk}
            if quick_replies and i == len(chunks) - 1:
                payload["quick_replies"] = quick_replies
            await self._post(recipient_id, payload)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.memory.forget(recipient_id)
        await self._send_chunks(recipient_id, text)

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: List[Dict[str, Any]], **kwargs: Any) -> None:
        fits = len(buttons) <= MAX_QUICK_REPLIES and all(
            0 < len(str(b.get("title", ""))) <= MAX_QUICK_REPLY_TITLE and b.get("payload") for b in buttons)
        if fits:
            self.memory.forget(recipient_id)
            quick = [{"content_type": "text", "title": str(b["title"]), "payload": str(b["payload"])}
                     for b in buttons]
            await self._send_chunks(recipient_id, text, quick)
        else:
            await self._send_chunks(recipient_id, numbered_options(text, buttons))
            self.memory.remember(recipient_id, buttons)

    async def send_quick_replies(self, recipient_id: str, text: str,
                                 quick_replies: List[Dict[str, Any]], **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_action(self, recipient_id: str, sender_action: str) -> None:
        """typing_on / mark_seen: cosmetic, so failures are only logged."""
        try:
            await asyncio.to_thread(self.messenger_client.send_action, sender_action,
                                    recipient_id, timeout=GRAPH_TIMEOUT_SECONDS)
        except Exception as e:
            logger.warning("Graph API sender action failed: %s", e)


class GuardedMessenger(Messenger):
    """Rasa's webhook-event parser, answering through our output channel."""

    def __init__(self, client: MessengerClient, on_new_message: OnNewMessage, memory: ButtonMemory) -> None:
        self.on_new_message = on_new_message
        self.client = client
        self.memory = memory
        self.last_message: Dict[str, Any] = {}

    async def _handle_user_message(self, text: str, sender_id: str, metadata: Optional[Dict[str, Any]]) -> None:
        out_channel = GuardedMessengerBot(self.client, self.memory)
        await out_channel.send_action(sender_id, "mark_seen")
        await out_channel.send_action(sender_id, "typing_on")
        try:
            await self.on_new_message(UserMessage(text, out_channel, sender_id,
                                                  input_channel=self.name(), metadata=metadata))
        finally:
            await out_channel.send_action(sender_id, "typing_off")


class GuardedFacebookInput(FacebookInput):
    """Messenger webhook with SHA-256 signature checks and the guard."""

    @classmethod
    def name(cls) -> str:
        return "facebook"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "GuardedFacebookInput":
        return cls(
            setting(credentials, "verify", "FACEBOOK_VERIFY_TOKEN"),
            setting(credentials, "secret", "FACEBOOK_APP_SECRET"),
            setting(credentials, "page-access-token", "FACEBOOK_PAGE_ACCESS_TOKEN"),
            api_base_url=setting(credentials, "api_base_url", "FACEBOOK_API_BASE_URL"),
        )

    def __init__(self, fb_verify: Optional[str], fb_secret: Optional[str], fb_access_token: Optional[str],
                 api_base_url: Optional[str] = None) -> None:
        super().__init__(
            required(fb_verify, "facebook", "verify", "FACEBOOK_VERIFY_TOKEN"),
            required(fb_secret, "facebook", "secret", "FACEBOOK_APP_SECRET"),
            required(fb_access_token, "facebook", "page-access-token", "FACEBOOK_PAGE_ACCESS_TOKEN"),
        )
        self.api_base_url = api_base_url
        self.memory = ButtonMemory()

    def get_output_channel(self) -> GuardedMessengerBot:
        return GuardedMessengerBot(graph_client(self.fb_access_token, self.api_base_url), self.memory)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint("fb_webhook", __name__)
        guarded = guard_on_new_message(on_new_message, memory=self.memory, channel=self.name())

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def token_verification(request: Request) -> HTTPResponse:
            token = request.args.get("hub.verify_token") or ""
            if request.args.get("hub.mode") == "subscribe" and \
                    hmac.compare_digest(token.encode("utf-8"), self.fb_verify.encode("utf-8")):
                return response.text(request.args.get("hub.challenge") or "")
            logger.warning("Messenger webhook verification with a wrong verify token")
            return response.json({"error": "invalid verify token"}, status=403)

        @webhook.route("/webhook", methods=["POST"])
        async def webhook_post(request: Request) -> HTTPResponse:
            if not hub_signature_valid(self.fb_secret, request.body or b"",
                                       request.headers.get("X-Hub-Signature-256"),
                                       request.headers.get("X-Hub-Signature")):
                logger.warning("Messenger webhook rejected: missing or wrong signature")
                return response.json({"error": "invalid or missing X-Hub-Signature-256"}, status=403)
            try:
                payload = request.json
            except Exception:
                return response.json({"error": "the request body is not valid JSON"}, status=400)
            if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
                return response.json({"error": "expected a Messenger webhook event"}, status=400)
            messenger = GuardedMessenger(graph_client(self.fb_access_token, self.api_base_url), guarded, self.memory)
            try:
                await messenger.handle(payload, self.get_metadata(request))
            except (KeyError, TypeError, IndexError, AttributeError):
                return response.json({"error": "malformed Messenger webhook event"}, status=400)
            return response.text("success")

        return install_error_handler(webhook)
