"""The one guard every channel puts around Rasa's `on_new_message`.

For each incoming message it
- maps a typed option number ("2") back to the button payload offered (SMS, fallbacks);
- runs safety.input_guard first: empty / too long / no text / not English get the
  guard's friendly reply and never reach NLU; NLU sees the guard's cleaned text (HTML
  and scripts stripped, whitespace normalised). Button payloads
  ("/intent{...}", what quick replies send) pass through unchanged (length still capped);
- counts what the turn sends; a turn that sends nothing (action server down or slow,
  any exception) gets APOLOGY instead of silence or Rasa's empty `[]`;
- bounds the turn by BACLOFEN_TURN_TIMEOUT_SECONDS (Rasa waits up to 5 minutes for the
  action server) and never lets an exception escape (logged, apology sent).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.formatting import ButtonMemory, merge_messages
from safety import input_guard
from security import server_limits

logger = logging.getLogger(__name__)

APOLOGY = (
    "Sorry — I can't answer right now. If this is an emergency, call 911 (or your local "
    "emergency number); for a possible overdose call Poison Control at 1-800-222-1222. "
    "Please try again in a few minutes, or contact your clinician or pharmacist."
)

TURN_TIMEOUT_ENV = "BACLOFEN_TURN_TIMEOUT_SECONDS"
DEFAULT_TURN_TIMEOUT = 30.0
# Rasa control payloads whose normal outcome is silence: no apology for those.
SILENT_PAYLOADS = {"/restart", "/session_start"}

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def turn_timeout() -> float:
    """Seconds one turn may take before the user gets the apology instead."""
    raw = os.environ.get(TURN_TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_TURN_TIMEOUT
    except ValueError:
        logger.warning("%s=%r is not a number; using %s s", TURN_TIMEOUT_ENV, raw, DEFAULT_TURN_TIMEOUT)
        return DEFAULT_TURN_TIMEOUT
    return value if value > 0 else DEFAULT_TURN_TIMEOUT


class GuardedOutput(OutputChannel):
    """Wraps a channel's output to count (and optionally merge) what one turn sends."""

    def __init__(self, inner: OutputChannel, merge_turn: bool = False) -> None:
        self.inner = inner
        self.merge_turn = merge_turn
        self.sent = 0
        self._pending: List[Tuple[str, Dict[str, Any]]] = []

    def name(self) -> str:  # type: ignore[override]
        # Rasa picks channel-specific response variations by this name.
        return self.inner.name()

    def __getattr__(self, attribute: str) -> Any:
        # Everything else (messages of the REST collector, client objects) is the inner's.
        return getattr(self.inner, attribute)

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        if self.merge_turn:
            self._pending.append((recipient_id, dict(message)))
        else:
            await self.inner.send_response(recipient_id, message)
        self.sent += 1

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})

    async def flush(self) -> None:
        """Send what a merging channel held back, as few messages as possible."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        recipient_id = pending[0][0]
        for message in merge_messages([m for _, m in pending]):
            await self.inner.send_response(recipient_id, message)


@dataclass
class Prepared:
    """What to do with one incoming message: pass `text` on, or send `reply` instead."""

    text: Optional[str] = None
    reply: Optional[str] = None
    outcome: str = "ok"


def prepare(text: Optional[str], sender_id: str, memory: Optional[ButtonMemory] = None) -> Prepared:
    """Apply the option-number mapping and the input guard to one message's text."""
    if memory is not None:
        payload = memory.resolve(sender_id, text)
        if payload is not None:
            return Prepared(text=payload, outcome="option")
    if text is not None and text.startswith("/"):
        result = input_guard.check(text)
        if result.outcome == "too_long":
            return Prepared(reply=result.reply, outcome=result.outcome)
        return Prepared(text=text, outcome="payload")
    result = input_guard.check(text)
    if not result.ok:
        return Prepared(reply=result.reply, outcome=result.outcome)
    return Prepared(text=result.text)  # markup stripped, whitespace normalised


def guard_on_new_message(
    on_new_message: OnNewMessage,
    memory: Optional[ButtonMemory] = None,
    merge_turn: bool = False,
) -> OnNewMessage:
    """Wrap Rasa's message handler with the input guard and the no-silence rule."""

    async def guarded(message: UserMessage) -> None:
        output = GuardedOutput(message.output_channel, merge_turn=merge_turn)
        message.output_channel = output
        sender = message.sender_id
        silent_ok = False
        try:
            prepared = prepare(message.text, sender, memory)
            if prepared.reply is not None:
                logger.info("input guard: %s (channel %s)", prepared.outcome, message.input_channel)
                await output.send_response(sender, {"text": prepared.reply})
            else:
                message.text = prepared.text
                silent_ok = prepared.text in SILENT_PAYLOADS
                await asyncio.wait_for(on_new_message(message), timeout=turn_timeout())
        except asyncio.TimeoutError:
            logger.error("turn timed out after %.0f s (channel %s)", turn_timeout(), message.input_channel)
        except Exception:
            logger.exception("turn failed (channel %s)", message.input_channel)
        await _finish(output, sender, silent_ok)

    return guarded


async def _finish(output: GuardedOutput, sender: str, silent_ok: bool) -> None:
    """Deliver held-back messages; if the turn said nothing, say APOLOGY."""
    try:
        await output.flush()
        if output.sent == 0 and not silent_ok:
            await output.inner.send_response(sender, {"text": APOLOGY})
    except Exception:
        # The platform itself is unreachable: nothing more we can send; keep the trace.
        logger.exception("could not deliver the reply or the apology")


def install_error_handler(blueprint: Blueprint) -> Blueprint:
    """JSON errors for the blueprint's routes; never a stack trace in a response."""

    @blueprint.exception(Exception)
    async def _on_error(request: Request, exception: Exception) -> HTTPResponse:
        status = getattr(exception, "status_code", 500) if isinstance(exception, SanicException) else 500
        if status >= 500:
            logger.error("%s %s failed", request.method, request.path, exc_info=exception)
            return response.json({"error": "internal error"}, status=500)
        return response.json({"error": str(exception) or "bad request"}, status=status)

    # Every channel brings the server-wide body cap and CORS allowlist with it.
    return server_limits.attach(blueprint)
