"""Telegram channel: Rasa's TelegramInput/TelegramOutput with authentication and the guard.

Added to Rasa 3.6's connector:
- every webhook POST must carry X-Telegram-Bot-Api-Secret-Token equal to our secret
  (Telegram echoes the `secret_token` given to setWebhook); missing → 401, wrong → 403.
  Rasa 3.6 only compares the bot's username via a getMe call per message;
- setWebhook (with that secret) runs once after the server starts, in the server's event
  loop; a failure is logged and does not stop the other channels (Rasa ran it with
  asyncio.run while building the app and refused to start);
- replies keep paragraphs together and split only at 4,096 chars (UTF-16, as Telegram
  counts); buttons become an inline keyboard, one per row, or numbered options when a
  payload exceeds Telegram's 64-byte callback_data;
- "/start" (sent when someone opens the bot) and "/help" map to the greet and
  capabilities intents; non-text messages (photos, stickers, voice) get the guard's
  "text only" reply instead of silence.

Settings (credentials.yml key, else environment variable):
  access_token  TELEGRAM_TOKEN          bot token from @BotFather (required)
  secret_token  TELEGRAM_SECRET_TOKEN   1-256 chars of A-Z a-z 0-9 _ - (required)
  webhook_url   TELEGRAM_WEBHOOK_URL    public https URL of /webhooks/telegram/webhook
  api_base_url  TELEGRAM_API_BASE_URL   default https://api.telegram.org (local Bot API server)
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from typing import Any, Dict, List, Optional, Tuple

from aiogram import Bot
from aiogram.bot.api import TELEGRAM_PRODUCTION, TelegramAPIServer
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.formatting import LIMITS, ButtonMemory, numbered_options, plain_links, split_message, utf16_len
from channels.guard import OnNewMessage, guard_on_new_message, install_error_handler
from channels.settings import required, setting

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
CALLBACK_DATA_MAX_BYTES = 64
API_TIMEOUT_SECONDS = 15
# Telegram bot commands → intent payloads of bot/domain.yml.
COMMANDS = {"/start": "/greet", "/help": "/capabilities"}
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


class GuardedTelegramOutput(TelegramOutput):
    """Telegram output with splitting, one-button-per-row keyboards and numbered fallback."""

    def __init__(self, access_token: str, api_base_url: Optional[str] = None,
                 memory: Optional[ButtonMemory] = None) -> None:
        server = TelegramAPIServer.from_base(api_base_url) if api_base_url else TELEGRAM_PRODUCTION
        Bot.__init__(self, access_token, server=server, timeout=API_TIMEOUT_SECONDS)
        self.memory = memory if memory is not None else ButtonMemory()

    async def _send_chunks(self, recipient_id: str, text: str,
                           reply_markup: Optional[InlineKeyboardMarkup] = None) -> None:
        chunks = split_message(plain_links(text), LIMITS["telegram"], size=utf16_len) or [""]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            await self.send_message(recipient_id, chunk, reply_markup=reply_markup if last else None)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.memory.forget(recipient_id)
        await self._send_chunks(recipient_id, text)

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: List[Dict[str, Any]], **kwargs: Any) -> None:
        if all(_fits_callback(b) for b in buttons):
            keyboard = InlineKeyboardMarkup()
            for b in buttons:
                keyboard.row(InlineKeyboardButton(str(b["title"]), callback_data=str(b["payload"])))
            self.memory.forget(recipient_id)
            await self._send_chunks(recipient_id, text, keyboard)
        else:
            await self._send_chunks(recipient_id, numbered_options(text, buttons))
            self.memory.remember(recipient_id, buttons)


def _fits_callback(button: Dict[str, Any]) -> bool:
    payload = button.get("payload")
    return bool(button.get("title")) and isinstance(payload, str) and \
        0 < len(payload.encode("utf-8")) <= CALLBACK_DATA_MAX_BYTES


class GuardedTelegramInput(TelegramInput):
    """Telegram webhook with secret-token authentication and the guard."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "GuardedTelegramInput":
        return cls(
            access_token=setting(credentials, "access_token", "TELEGRAM_TOKEN"),
            secret_token=setting(credentials, "secret_token", "TELEGRAM_SECRET_TOKEN"),
            webhook_url=setting(credentials, "webhook_url", "TELEGRAM_WEBHOOK_URL"),
            api_base_url=setting(credentials, "api_base_url", "TELEGRAM_API_BASE_URL"),
        )

    def __init__(self, access_token: Optional[str], secret_token: Optional[str],
                 webhook_url: Optional[str] = None, api_base_url: Optional[str] = None) -> None:
        token = required(access_token, "telegram", "access_token", "TELEGRAM_TOKEN")
        secret = required(secret_token, "telegram", "secret_token", "TELEGRAM_SECRET_TOKEN")
        if not _SECRET_FORMAT.match(secret):
            raise InvalidConfigException(
                "TELEGRAM_SECRET_TOKEN must be 1-256 characters of A-Z, a-z, 0-9, _ and -.")
        super().__init__(token, verify=None, webhook_url=webhook_url, debug_mode=False)
        self.secret_token = secret
        self.api_base_url = api_base_url
        self.memory = ButtonMemory()

    def get_output_channel(self) -> GuardedTelegramOutput:
        """The output channel (no network call here, unlike Rasa's)."""
        return GuardedTelegramOutput(self.access_token, self.api_base_url, self.memory)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint("telegram_webhook", __name__)
        guarded = guard_on_new_message(on_new_message, memory=self.memory, channel=self.name())
        out_channel = self.get_output_channel()

        @webhook.listener("after_server_start")
        async def register_webhook(*_: Any) -> None:
            await self.set_webhook(out_channel)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            denied = self.check_secret(request.headers.get(SECRET_HEADER))
            if denied is not None:
                return denied
            try:
                update = request.json
            except Exception:
                return response.json({"error": "the request body is not valid JSON"}, status=400)
            if not isinstance(update, dict):
                return response.json({"error": "expected a Telegram Update object"}, status=400)
            parsed = parse_update(update)
            if parsed is None:
                return response.text("success")  # an update type we don't answer
            chat_id, text, callback_id = parsed
            if callback_id:
                await _answer_callback(out_channel, callback_id)
            metadata = self.get_metadata(request)
            text = bot_command(text)
            if text == "/restart":
                # Rasa's restart payload resets the conversation; then greet afresh.
                await guarded(UserMessage("/restart", out_channel, chat_id, input_channel=self.name(),
                                          metadata=metadata))
                text = "/start"
            text = COMMANDS.get(text, text) if text else text
            await guarded(UserMessage(text, out_channel, chat_id, input_channel=self.name(), metadata=metadata))
            return response.text("success")

        return install_error_handler(webhook)

    def check_secret(self, header: Optional[str]) -> Optional[HTTPResponse]:
        """None if the header carries our secret; else the 401/403 response to send."""
        if not header:
            return response.json({"error": f"missing {SECRET_HEADER}"}, status=401)
        if not hmac.compare_digest(header.encode("utf-8"), self.secret_token.encode("utf-8")):
            return response.json({"error": f"wrong {SECRET_HEADER}"}, status=403)
        return None

    async def set_webhook(self, out_channel: GuardedTelegramOutput) -> bool:
        """Point Telegram at our webhook URL with the secret it must send back."""
        if not self.webhook_url:
            logger.warning("TELEGRAM_WEBHOOK_URL not set: call setWebhook yourself with the same secret_token")
            return False
        try:
            await out_channel.request("setWebhook", {
                "url": self.webhook_url,
                "secret_token": self.secret_token,
                "allowed_updates": json.dumps(ALLOWED_UPDATES),
            })
        except Exception as e:  # Telegram down or token revoked: the other channels keep working
            logger.error("Telegram setWebhook failed: %s", e)
            return False
        logger.info("Telegram webhook set")
        return True


def parse_update(update: Dict[str, Any]) -> Optional[Tuple[str, Optional[str], Optional[str]]]:
    """(chat id, text or None for non-text, callback query id) of an update we answer."""
    callback = update.get("callback_query")
    if isinstance(callback, dict):
        chat = (callback.get("message") or {}).get("chat") or {}
        data = callback.get("data")
        if "id" not in chat:
            return None
        return str(chat["id"]), data if isinstance(data, str) else None, str(callback.get("id") or "")
    message = update.get("message") or update.get("edited_message")
    if not isinstance(message, dict):
        return None
    chat = message.get("chat") or {}
    if not isinstance(chat, dict) or "id" not in chat:
        return None
    text = message.get("text")
    return str(chat["id"]), text if isinstance(text, str) else None, None


def bot_command(text: Optional[str]) -> Optional[str]:
    """"/start@OurBot" (how commands look in groups) → "/start"; other text unchanged."""
    if text and text.startswith("/") and " " not in text.strip() and "@" in text:
        command = text.strip().split("@", 1)[0]
        if command in COMMANDS or command == "/restart":
            return command
    return text


async def _answer_callback(out_channel: GuardedTelegramOutput, callback_id: str) -> None:
    """Stop the button's loading spinner; best effort."""
    try:
        await out_channel.answer_callback_query(callback_id)
    except Exception as e:
        logger.warning("answerCallbackQuery failed: %s", e)
