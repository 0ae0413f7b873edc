"""Socket.IO channel (the web widget) with the guard.

Rasa's SocketIOInput unchanged (events, session_persistence, JWT), with every
`user_uttered` message going through the guard, and malformed events from a client
(non-object data, non-string message, bad metadata JSON) treated as empty input
instead of raising inside the socket handler.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, Optional

from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from channels.guard import OnNewMessage, guard_on_new_message, install_error_handler
from security import rate_limit

logger = logging.getLogger(__name__)


class GuardedSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel behind the input guard and the no-silence rule."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = super().blueprint(guard_on_new_message(on_new_message, limit_senders=False))
        sio = self.sio
        assert sio is not None  # set by SocketIOInput.blueprint
        namespace = self.namespace or "/"
        handlers = sio.handlers[namespace]
        original_message = handlers[self.user_message_evt]
        original_session = handlers["session_request"]

        async def handle_message(sid: str, data: Any = None) -> None:
            try:
                event = clean_event(data, self.metadata_key)
                # Limited here, with the connection's address; Rasa's sender id is the session id.
                sender = str(event.get("session_id") or "") if self.session_persistence else sid
                if sender and await rate_limit.refuse_socketio(sio, sid, self.namespace, sender, self.bot_message_evt):
                    return
                await original_message(sid, event)
            except Exception:
                logger.exception("socket.io message handler failed")

        async def session_request(sid: str, data: Any = None) -> None:
            await original_session(sid, data if isinstance(data, dict) else None)

        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        sio.on("session_request", session_request, namespace=self.namespace)
        return install_error_handler(webhook)


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
