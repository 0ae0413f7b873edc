"""Readiness for load balancers and Kubernetes: GET /webhooks/health/ready.

Rasa's own `/` answers "Hello from Rasa" as soon as Sanic listens, even when no model
could be loaded (a wrong path or a model from another Rasa version leaves the server up
with nothing to answer with), and `/status` exists only with --enable-api, which
production must not expose. This channel answers
- 200 {"status": "ready", "model_id": ...} when the agent has a loaded model and a
  tracker store, i.e. a user message would get a real answer;
- 503 {"status": "no model loaded"} otherwise, so the instance gets no traffic.

It takes no messages and needs no settings: list it in credentials.yml as
`channels.health.HealthInput:`. Liveness keeps using Rasa's `/` (a server without a
model is broken, but restarting it will not load a missing model).
"""

from __future__ import annotations

from typing import Any, Optional

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.guard import OnNewMessage, install_error_handler
from security import server_limits


def agent_ready(agent: Optional[Any]) -> bool:
    """True when `agent` can answer a message: a loaded model and a tracker store."""
    if agent is None:
        return False
    try:
        return bool(agent.is_ready())
    except Exception:  # a half-built agent must read as "not ready", never as a 500
        return False


def readiness(agent: Optional[Any]) -> HTTPResponse:
    """The readiness answer for `agent` (None when Rasa has not created one yet)."""
    if not agent_ready(agent):
        return response.json({"status": "no model loaded"}, status=503)
    return response.json({"status": "ready", "model_id": getattr(agent, "model_id", None)})


class HealthInput(InputChannel):
    """GET /webhooks/health/ready: 200 only when a model is loaded, else 503."""

    @classmethod
    def name(cls) -> str:
        return "health"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        health = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @health.route("/ready", methods=["GET", "HEAD"])
        async def ready(request: Request) -> HTTPResponse:
            # Rasa sets app.ctx.agent once the model has loaded (or failed to).
            return readiness(getattr(request.app.ctx, "agent", None))

        # The body cap and CORS allowlist for the whole Rasa app (security/server_limits.py).
        return server_limits.attach(install_error_handler(health))
