"""Slack channel: Rasa's SlackInput (which already verifies Slack's signatures) with the guard.

Rasa 3.6 checks X-Slack-Signature = "v0=" + HMAC-SHA256(signing secret, "v0:{ts}:{body}")
with a constant-time compare, rejects timestamps more than 5 minutes off (replays) with
HTTP 400, and refuses to start without a signing secret; we keep that unchanged.
Added: the guard, replies as section blocks of at most 3,000 chars (a message at most
40,000), and more than 5 buttons (Rasa then drops them all) as numbered options.

Settings (credentials.yml key, else environment variable):
  slack_token           SLACK_TOKEN           bot token, xoxb-... (required)
  slack_signing_secret  SLACK_SIGNING_SECRET  (required)
  slack_channel         SLACK_CHANNEL         optional fixed channel
  api_base_url          SLACK_API_BASE_URL    default https://slack.com/api/
Other Rasa keys (use_threads, conversation_granularity, proxy, ...) work as in Rasa.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.core.channels.slack import SlackBot, SlackInput
from sanic import Blueprint
from slack_sdk.web.async_client import AsyncWebClient

from channels.formatting import LIMITS, ButtonMemory, numbered_options, plain_links, split_message
from channels.guard import OnNewMessage, guard_on_new_message, install_error_handler
from channels.settings import required, setting

MAX_BUTTONS = 5


def _sections(text: str) -> List[Dict[str, Any]]:
    return [{"type": "section", "text": {"type": "plain_text", "text": part}}
            for part in split_message(text, LIMITS["slack_block"])]


class GuardedSlackBot(SlackBot):
    """Slack output with block-size splitting and numbered options for many buttons."""

    def __init__(self, token: str, slack_channel: Optional[str] = None, thread_id: Optional[str] = None,
                 proxy: Optional[str] = None, memory: Optional[ButtonMemory] = None,
                 api_base_url: Optional[str] = None) -> None:
        super().__init__(token, slack_channel, thread_id, proxy)
        self.memory = memory if memory is not None else ButtonMemory()
        if api_base_url:
            self.client = AsyncWebClient(token, proxy=proxy, base_url=api_base_url.rstrip("/") + "/")

    async def _post_chunks(self, recipient_id: str, text: str,
                           buttons: Optional[List[Dict[str, Any]]] = None) -> None:
        channel = self.slack_channel or recipient_id
        chunks = split_message(plain_links(text), LIMITS["slack_message"]) or [""]
        for i, chunk in enumerate(chunks):
            blocks = _sections(chunk)
            if buttons and i == len(chunks) - 1:
                blocks.append({"type": "actions", "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": str(b["title"])},
                     "value": str(b["payload"])} for b in buttons]})
            await self._post_message(channel=channel, as_user=True, text=chunk, blocks=blocks)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.memory.forget(recipient_id)
        await self._post_chunks(recipient_id, text)

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: List[Dict[str, Any]], **kwargs: Any) -> None:
        if len(buttons) <= MAX_BUTTONS:
            self.memory.forget(recipient_id)
            await self._post_chunks(recipient_id, text, buttons)
        else:
            await self._post_chunks(recipient_id, numbered_options(text, buttons))
            self.memory.remember(recipient_id, buttons)


class GuardedSlackInput(SlackInput):
    """Rasa's Slack channel (signature checks unchanged) behind the guard."""

    @classmethod
    def name(cls) -> str:
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "GuardedSlackInput":
        creds = credentials or {}
        channel = cls(
            required(setting(creds, "slack_token", "SLACK_TOKEN"), "slack", "slack_token", "SLACK_TOKEN"),
            setting(creds, "slack_channel", "SLACK_CHANNEL"),
            creds.get("proxy"),
            creds.get("slack_retry_reason_header", "x-slack-retry-reason"),
            creds.get("slack_retry_number_header", "x-slack-retry-num"),
            creds.get("errors_ignore_retry", None),
            creds.get("use_threads", False),
            setting(creds, "slack_signing_secret", "SLACK_SIGNING_SECRET") or "",
            creds.get("conversation_granularity", "sender"),
        )
        channel.api_base_url = setting(creds, "api_base_url", "SLACK_API_BASE_URL")
        return channel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # raises without a signing secret
        self.api_base_url: Optional[str] = None
        self.memory = ButtonMemory()

    def get_output_channel(self, channel: Optional[str] = None, thread_id: Optional[str] = None) -> GuardedSlackBot:
        return GuardedSlackBot(self.slack_token, channel or self.slack_channel, thread_id, self.proxy,
                               self.memory, self.api_base_url)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        guarded = guard_on_new_message(on_new_message, memory=self.memory, channel=self.name())
        return install_error_handler(super().blueprint(guarded))
