"""Limits every one of our servers applies in code, wherever and however it is started.

- BACLOFEN_BIND_ADDRESS: the address servers listen on (default 127.0.0.1: private);
  containers set 0.0.0.0 where other containers or pods must reach them.
- BACLOFEN_MAX_REQUEST_BYTES: the largest HTTP request body Rasa accepts (default
  1,000,000; Sanic's own default is 100 MB). Larger bodies get 413 before they are read.
- CORS on Rasa comes only from security/origins.py (BACLOFEN_ALLOWED_ORIGINS) and never
  allows credentials: Rasa 3.6 hard-codes CORS_SUPPORTS_CREDENTIALS=True and takes its
  origins from `--cors`, which a deployer may have left at "*".

The Rasa half runs inside the Rasa process: our channels call `attach(blueprint)`, so
the limits hold under `make run`, the tests, the containers, or a bare `rasa run`.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping, Optional

from sanic import Blueprint, Sanic

from security.origins import allowed_origins

logger = logging.getLogger(__name__)

BIND_ENV = "BACLOFEN_BIND_ADDRESS"
DEFAULT_BIND = "127.0.0.1"
MAX_REQUEST_ENV = "BACLOFEN_MAX_REQUEST_BYTES"
DEFAULT_MAX_REQUEST_BYTES = 1_000_000


def bind_address(env: Optional[Mapping[str, str]] = None) -> str:
    """Where servers listen: $BACLOFEN_BIND_ADDRESS, else loopback only."""
    return (os.environ if env is None else env).get(BIND_ENV, "").strip() or DEFAULT_BIND


def positive_int(name: str, default: int, env: Optional[Mapping[str, str]] = None) -> int:
    """$name as a positive integer; the default (with a warning) when unset or invalid."""
    raw = (os.environ if env is None else env).get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        logger.warning("%s=%r is not a positive integer; using %d", name, raw, default)
        return default
    return value


def max_request_bytes(env: Optional[Mapping[str, str]] = None) -> int:
    return positive_int(MAX_REQUEST_ENV, DEFAULT_MAX_REQUEST_BYTES, env)


def apply(app: Sanic) -> None:
    """Put the body cap and the CORS allowlist on a running Rasa app (idempotent)."""
    app.config.REQUEST_MAX_SIZE = max_request_bytes()
    # Rasa's configure_cors sets this before building sanic-cors' options; it is read again
    # for every CORS decision of sanic-cors' error handler.
    app.config.CORS_SUPPORTS_CREDENTIALS = False
    cors: Any = getattr(app.ctx, "sanic_cors", None)
    if cors is not None:
        origins = allowed_origins()
        # sanic-cors computed these at start-up and reads them on every request.
        for options in [getattr(cors, "options", None)] + [opts for _, opts in getattr(cors, "resources", [])]:
            if isinstance(options, dict):
                options["origins"] = list(origins)
                options["supports_credentials"] = False
                options["send_wildcard"] = False


def attach(blueprint: Blueprint) -> Blueprint:
    """Apply the limits when the server that registers this blueprint starts."""

    @blueprint.listener("before_server_start")
    async def _limits(app: Sanic, _loop: Any) -> None:
        apply(app)

    return blueprint
