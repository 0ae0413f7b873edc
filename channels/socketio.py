"""Socket.IO channel (the web widget) with the guard.

Rasa's SocketIOInput (events, session_persistence, JWT), with every `user_uttered`
message going through the guard, malformed events from a client (non-object data,
non-string message, bad metadata JSON) treated as empty input instead of raising inside
the socket handler, and these protections:
- Origin: a connection whose Origin header is not allowed (security/origins.py,
  BACLOFEN_ALLOWED_ORIGINS) is refused by engine.io at the handshake, for websocket and
  polling alike. A connection without an Origin header is accepted: browsers always send
  one on websocket and cross-site requests, so only non-browser clients (curl, test
  harnesses, server-side integrations) lack it, and those could send any Origin anyway.
- Sessions (session_persistence: true): session ids are issued and signed by the server
  (security/sessions.py). `session_request` continues a session only when its id carries
  our signature, and otherwise confirms a fresh one. A socket speaks only for the session
  it was confirmed for: the `session_id` a client names in `user_uttered` is ignored, and
  a socket that was never confirmed gets a short reply instead of reaching the bot.
  Replies go to the session's room, which only confirmed sockets join.
- Logs: a closed websocket no longer writes Sanic's "Invalid response type None" traceback,
  nor Sanic 21.12's asyncio.wait DeprecationWarning (harmless on Python 3.10) each time.
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any, Callable, Dict, Optional

from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from channels.guard import OnNewMessage, guard_on_new_message, install_error_handler
from security.origins import allowed_origins, origin_allowed
from security.sessions import SessionSigner, load_key
from security import rate_limit

logger = logging.getLogger(__name__)

warnings.filterwarnings("ignore", message="The explicit passing of coroutine objects to asyncio.wait",
                        category=DeprecationWarning, module=r"sanic\.server\.websockets\.impl")

NO_SESSION = "Your chat session has not started yet. Please reload the page and try again."


class GuardedSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel behind the input guard, the Origin check and signed sessions."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        signer = SessionSigner(load_key())  # read at start: a bad key stops start-up
        webhook = super().blueprint(guard_on_new_message(on_new_message, channel=self.name(), limit_senders=False))
        sio = self.sio
        assert sio is not None  # set by SocketIOInput.blueprint
        origins = allowed_origins()
        # engine.io's own Origin check (Rasa turns it off with []); no credentialed CORS.
        sio.eio.cors_allowed_origins = origin_allowed  # called with the request's Origin
        sio.eio.cors_credentials = False
        sio.eio.handle_request = _websocket_aware(sio.eio.handle_request)
        logger.info("socket.io accepts the origins %s", ", ".join(origins))

        namespace = self.namespace or "/"
        original_message = sio.handlers[namespace][self.user_message_evt]

        async def session_request(sid: str, data: Any = None) -> None:
            claimed = data.get("session_id") if isinstance(data, dict) else None
            session_id = signer.verified(claimed) or signer.issue()
            previous = await _confirmed(sio, sid, self.namespace)
            if previous and previous != session_id:
                sio.leave_room(sid, previous, namespace=self.namespace)
            if self.session_persistence:
                sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.save_session(sid, {"session_id": session_id}, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        async def handle_message(sid: str, data: Any = None) -> None:
            try:
                event = clean_event(data, self.metadata_key)
                if self.session_persistence:
                    session_id = await _confirmed(sio, sid, self.namespace)
                    if session_id is None:
                        logger.info("socket.io message from a socket without a confirmed session: ignored")
                        await sio.emit(self.bot_message_evt, {"text": NO_SESSION}, room=sid,
                                       namespace=self.namespace)
                        return
                    event["session_id"] = session_id  # never the id the client named
                # Limited here, with the connection's address; the sender is the confirmed session.
                sender = str(event.get("session_id") or "") if self.session_persistence else sid
                if sender and await rate_limit.refuse_socketio(sio, sid, self.namespace, sender, self.bot_message_evt):
                    return
                await original_message(sid, event)
            except Exception:
                logger.exception("socket.io message handler failed")

        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        sio.on("session_request", session_request, namespace=self.namespace)
        return install_error_handler(webhook)


async def _confirmed(sio: Any, sid: str, namespace: Optional[str]) -> Optional[str]:
    """The session this socket was confirmed for, if any."""
    try:
        session = await sio.get_session(sid, namespace=namespace)
    except KeyError:  # the socket is gone
        return None
    value = session.get("session_id")
    return value if isinstance(value, str) else None


def _websocket_aware(handle_request: Callable[..., Any]) -> Callable[..., Any]:
    """engine.io's Sanic handler returns None once a websocket closes; Sanic accepts that
    only from handlers marked as websocket handlers (else: a 500 traceback per disconnect).
    Polling requests still return their HTTP response."""

    async def handler(*args: Any, **kwargs: Any) -> Any:
        return await handle_request(*args, **kwargs)

    handler.is_websocket = True  # type: ignore[attr-defined]
    return handler


def clean_event(data: Any, metadata_key: str = "metadata") -> Dict[str, Any]:
    """A well-formed user_uttered payload: message a string (else ""), metadata a dict."""
    event: Dict[str, Any] = dict(data) if isinstance(data, dict) else {}
    if not isinstance(event.get("message"), str):
        event["message"] = ""
    metadata: Optional[Any] = event.get(metadata_key)
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = None
    event[metadata_key] = metadata if isinstance(metadata, dict) else {}
    return event
