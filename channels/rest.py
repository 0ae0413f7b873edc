"""REST channel with the guard: POST /webhooks/rest/webhook {"sender": "...", "message": "..."}.

Same URL and reply format as Rasa's RestInput (a JSON list of bot messages), plus:
- malformed JSON, a missing or non-string "message", a bad "sender" or "metadata"
  → HTTP 400 with {"error": "..."} (Rasa answers 500 or crashes on these);
- a request without "sender" gets a fresh random id, never Rasa's shared "default"
  conversation (which would mix strangers' histories);
- a body that is not `Content-Type: application/json` → HTTP 415 with {"error": "..."};
- the stored conversation is "rest:<sender>" (channels/guard.py), so a REST client can
  never continue a web-widget or messaging-app conversation by naming its id;
- `?stream=true` keeps Rasa's behaviour (newline-delimited JSON messages as they are
  produced), with the same guard.
"""

from __future__ import annotations

import uuid
from typing import Any, Dict, Optional, Tuple, Union

import rasa.utils.endpoints
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse, ResponseStream

from channels.guard import OnNewMessage, guard_on_new_message, install_error_handler
from security import rate_limit

# The store keeps sender ids in 255 characters, "rest:" included.
MAX_SENDER_CHARS = 240
JSON_ONLY = 'send the message as JSON with the header "Content-Type: application/json"'


class GuardedRestInput(RestInput):
    """Rasa's REST channel behind the input guard and the no-silence rule."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        guarded = guard_on_new_message(on_new_message, channel=self.name(), limit_senders=False)
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> Union[HTTPResponse, ResponseStream]:
            if not is_json(request):
                return response.json({"error": JSON_ONLY}, status=415)
            parsed, error = parse_request(request)
            if error is not None or parsed is None:
                return response.json({"error": error}, status=400)
            text, sender, input_channel, metadata = parsed
            limited = await rate_limit.refuse_request(request, self.name(), sender)
            if limited is not None:  # HTTP 429: not processed, no conversation lock taken
                return limited
            if rasa.utils.endpoints.bool_arg(request, "stream", default=False):
                return response.stream(
                    self.stream_response(guarded, text, sender, input_channel, metadata),
                    content_type="text/event-stream",
                )
            collector = CollectingOutputChannel()
            await guarded(UserMessage(text, collector, sender, input_channel=input_channel, metadata=metadata))
            return response.json(collector.messages)

        return install_error_handler(webhook)


Parsed = Tuple[str, str, str, Optional[Dict[str, Any]]]


def is_json(request: Request) -> bool:
    """True for `application/json` (any parameters, e.g. charset): browsers send other
    types cross-site without a CORS preflight, so only JSON is read."""
    media_type = (request.headers.get("content-type") or "").split(";", 1)[0]
    return media_type.strip().lower() == "application/json"


def parse_request(request: Request) -> Tuple[Optional[Parsed], Optional[str]]:
    """(text, sender, input_channel, metadata) from the JSON body, or an error message."""
    try:
        body = request.json
    except Exception:  # Sanic raises InvalidUsage on bad JSON; never let it become a 500
        return None, "the request body is not valid JSON"
    if not isinstance(body, dict):
        return None, 'the request body must be a JSON object like {"sender": "id", "message": "text"}'
    text = body.get("message")
    if text is None:
        return None, 'missing "message"'
    if not isinstance(text, str):
        return None, '"message" must be a string'
    sender = body.get("sender")
    if sender is None:
        sender = uuid.uuid4().hex
    elif isinstance(sender, bool) or not isinstance(sender, (str, int)):
        return None, '"sender" must be a string'
    sender = str(sender).strip()
    if not sender or len(sender) > MAX_SENDER_CHARS:
        return None, f'"sender" must be 1 to {MAX_SENDER_CHARS} characters'
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return None, '"metadata" must be a JSON object'
    input_channel = body.get("input_channel") or GuardedRestInput.name()
    if not isinstance(input_channel, str):
        return None, '"input_channel" must be a string'
    return (text, sender, input_channel, metadata), None
