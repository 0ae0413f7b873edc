"""The one guard every channel puts around Rasa's `on_new_message`.

For each incoming message it
- keeps the conversation in its channel's namespace: the stored sender id is
  "<channel>:<platform id>" (rest:alice, socketio:<session>, telegram:<chat id>), so one
  channel's client can never name and continue another channel's conversation; replies
  still go to the platform id;
- maps a typed option number ("2") back to the button payload offered (SMS, fallbacks);
- honours an intent payload ("/intent{...}", what quick replies send) only when the bot
  offered a button with exactly that payload since the user's last message (read from the
  conversation store, so it holds across instances), or it is one of STANDING_PAYLOADS;
  anything else starting with "/" is read as plain text (leading slashes dropped, so
  Rasa never parses it as an intent with entities);
- runs safety.input_guard first: empty / too long / no text / not English get the
  guard's friendly reply and never reach NLU; NLU sees the guard's cleaned text (HTML
  and scripts stripped, whitespace normalised). Honoured payloads pass unchanged
  (length still capped);
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
from typing import Any, Awaitable, Callable, Collection, Dict, FrozenSet, Iterable, List, Optional, Tuple

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.shared.core.events import BotUttered, Event, UserUttered
from sanic import Blueprint, Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.formatting import ButtonMemory, merge_messages
from safety import input_guard
from security import rate_limit, server_limits

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
# Payloads any conversation may send at any time, exactly as written (no entities): the
# widget's opening "/greet", Telegram's /start, /help and /restart commands. Harmless:
# greet, say what the bot can do, start the dialogue over (the stored history stays).
# Rasa's "/session_start" is not among them: Rasa sends it itself; typed, it is text.
STANDING_PAYLOADS = frozenset({"/greet", "/capabilities", "/restart"})

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
# The payloads of the buttons the bot last offered to a conversation (by stored sender id).
OfferLookup = Callable[[str], Awaitable[Collection[str]]]


def conversation_id(channel: str, platform_id: str) -> str:
    """The stored sender id of a channel's user: one place for every channel."""
    return f"{channel}:{platform_id}"


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

    def __init__(self, inner: OutputChannel, merge_turn: bool = False, namespace: str = "") -> None:
        self.inner = inner
        self.merge_turn = merge_turn
        self.namespace = namespace  # "rest:": stripped so replies reach the platform id
        self.sent = 0
        self._pending: List[Tuple[str, Dict[str, Any]]] = []

    def name(self) -> str:  # type: ignore[override]
        # Rasa picks channel-specific response variations by this name.
        return self.inner.name()

    def __getattr__(self, attribute: str) -> Any:
        # Everything else (messages of the REST collector, client objects) is the inner's.
        return getattr(self.inner, attribute)

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        if self.namespace and recipient_id.startswith(self.namespace):
            recipient_id = recipient_id[len(self.namespace):]
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


def looks_like_payload(text: Optional[str]) -> bool:
    return isinstance(text, str) and text.strip().startswith("/")


def prepare(text: Optional[str], sender_id: str, memory: Optional[ButtonMemory] = None,
            offered: Collection[str] = ()) -> Prepared:
    """Apply the option-number mapping, the payload rule and the input guard to one message."""
    if memory is not None:
        payload = memory.resolve(sender_id, text)
        if payload is not None:
            return Prepared(text=payload, outcome="option")
    if text is not None and looks_like_payload(text):
        payload = text.strip()
        if payload in STANDING_PAYLOADS or payload in offered:
            result = input_guard.check(payload)
            if result.outcome == "too_long":
                return Prepared(reply=result.reply, outcome=result.outcome)
            return Prepared(text=payload, outcome="payload")
    result = _as_plain_text(text)
    if not result.ok:
        return Prepared(reply=result.reply, outcome=result.outcome)
    return Prepared(text=result.text)  # markup stripped, whitespace normalised


def _as_plain_text(text: Optional[str]) -> input_guard.GuardResult:
    """The input guard's verdict on text that must never reach Rasa as an intent payload:
    leading slashes go (also ones that cleaning markup uncovers)."""
    result = input_guard.check(text)
    while result.ok and result.text.startswith("/"):
        result = input_guard.check(result.text.lstrip("/"))
    return result


def offers_in(events: Iterable[Event]) -> FrozenSet[str]:
    """Payloads of the buttons in the bot messages after the user's last message."""
    payloads = set()
    for event in reversed(list(events)):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            for button in (event.data or {}).get("buttons") or []:
                if isinstance(button, dict) and isinstance(button.get("payload"), str):
                    payloads.add(button["payload"].strip())
    return frozenset(payloads)


async def offers_in_store(conversation: str) -> FrozenSet[str]:
    """What the bot last offered `conversation`, from Rasa's tracker store (shared by every
    instance); nothing when it cannot be read (the payload is then read as text)."""
    try:
        agent = Sanic.get_app().ctx.agent
        tracker = await agent.tracker_store.retrieve(conversation)
    except Exception as e:  # no app/agent yet, or the store is down
        logger.warning("could not read the conversation to check a button payload (%s)", type(e).__name__)
        return frozenset()
    return offers_in(tracker.events) if tracker is not None else frozenset()


def guard_on_new_message(
    on_new_message: OnNewMessage,
    memory: Optional[ButtonMemory] = None,
    merge_turn: bool = False,
    *,
    channel: str,
    offers: OfferLookup = offers_in_store,
    limit_senders: bool = True,
) -> OnNewMessage:
    """Wrap Rasa's message handler with the input guard and the no-silence rule.

    `channel` is the channel's own name (never a client-supplied value): the namespace of
    its conversations. `limit_senders`: this channel's own per-sender rate limit (REST and
    socket.io limit earlier, with the client's address)."""
    limiter = rate_limit.from_env() if limit_senders else None
    rate_limit.configured()  # the settings are read at server start, not at the first message

    async def guarded(message: UserMessage) -> None:
        sender = message.sender_id
        message.sender_id = conversation_id(channel, sender)
        output = GuardedOutput(message.output_channel, merge_turn=merge_turn,
                               namespace=conversation_id(channel, ""))
        message.output_channel = output
        silent_ok = False
        try:
            if limiter and not (await limiter.admit(message.input_channel, sender)).allowed:
                prepared = Prepared(reply=rate_limit.TOO_QUICKLY, outcome="rate_limited")
            else:
                offered = await offers(message.sender_id) if looks_like_payload(message.text) else ()
                prepared = prepare(message.text, sender, memory, offered)
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
