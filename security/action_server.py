"""Our action server: rasa_sdk's own Sanic app, private and behind a shared token.

    python -m security.action_server --actions actions --port 5055

On top of `rasa_sdk.endpoint.create_app` (the same executor, routes and replies) it
- listens on BACLOFEN_BIND_ADDRESS (default 127.0.0.1), never on every interface unasked;
- runs nothing without the shared token: every route but GET /health needs
  `Authorization: Bearer $BACLOFEN_ACTIONS_TOKEN` (Rasa sends it, bot/endpoints.yml),
  else 401; it refuses to start without a token of at least MIN_TOKEN_CHARS characters;
- refuses any Content-Encoding but identity (415) and bodies over
  BACLOFEN_ACTIONS_MAX_BODY_BYTES (413), both from the headers, before reading the body:
  rasa_sdk would inflate a `deflate` body without limit;
- answers every error with a generic JSON body and logs it without the request body
  (rasa_sdk's own 500 echoes the whole request).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
from typing import List, Optional

from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from security.server_limits import BIND_ENV, bind_address, positive_int

logger = logging.getLogger(__name__)

TOKEN_ENV = "BACLOFEN_ACTIONS_TOKEN"
MAX_BODY_ENV = "BACLOFEN_ACTIONS_MAX_BODY_BYTES"
# Measured: with the 60-event window (BACLOFEN_TRACKER_WINDOW), 45 turns of 1,900-character
# messages with metadata made calls of at most 100 KB; 512 KB leaves room for a longer window.
DEFAULT_MAX_BODY_BYTES = 512 * 1024
MIN_TOKEN_CHARS = 16
OPEN_PATHS = frozenset({"/health"})


class Refused(SanicException):
    """A request refused from its headers alone; the message is safe to show."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, status_code=status)


def actions_token(env: Optional[dict] = None) -> str:
    """The shared token; SystemExit with one clear line when it is missing or too short."""
    token = (os.environ if env is None else env).get(TOKEN_ENV, "").strip()
    if len(token) < MIN_TOKEN_CHARS:
        raise SystemExit(
            f"Error: the action server needs {TOKEN_ENV} (at least {MIN_TOKEN_CHARS} characters, "
            f"e.g. `openssl rand -hex 32`), the same value Rasa sends; `make run` generates one.")
    return token


def check_headers(request: Request, token: str, max_body: int) -> None:
    """Raise Refused for a request that must not reach rasa_sdk (run before the body is read)."""
    if request.path in OPEN_PATHS:
        return
    sent = request.headers.get("authorization", "")
    scheme, _, value = sent.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        raise Refused(401, "missing or wrong action server token")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise Refused(415, "compressed request bodies are not accepted")
    length = request.headers.get("content-length", "")
    logger.debug("%s %s: %s body bytes", request.method, request.path, length or "chunked")
    if length.isdigit() and int(length) > max_body:
        raise Refused(413, f"request body over {max_body} bytes")


def build_app(actions_package: str, token: str, max_body: int = DEFAULT_MAX_BODY_BYTES) -> Sanic:
    """rasa_sdk's app (no CORS: only Rasa calls it, never a browser) with our checks."""
    from rasa_sdk.endpoint import create_app

    app = create_app(actions_package, cors_origins=None)
    # Sanic's own cap for chunked bodies and lying Content-Lengths (checked while reading).
    app.config.REQUEST_MAX_SIZE = max_body

    # Inside handle_request's error handling, after routing and before the body is read.
    @app.signal("http.routing.before")
    async def refuse_early(request: Request) -> None:
        check_headers(request, token, max_body)

    # Registered after rasa_sdk's handler, so it replaces the one that echoes the body.
    @app.exception(Exception)
    async def generic_error(request: Request, exception: Exception) -> HTTPResponse:
        status = exception.status_code if isinstance(exception, SanicException) else 500
        if status >= 500:
            logger.error("%s %s failed", request.method, request.path, exc_info=exception)
            return response.json({"error": "internal error"}, status=500)
        logger.info("%s %s refused: %s %s", request.method, request.path, status, type(exception).__name__)
        message = str(exception) if isinstance(exception, Refused) else _REASONS.get(status, "bad request")
        return response.json({"error": message}, status=status)

    return app


_REASONS = {404: "not found", 405: "method not allowed", 413: "request body too large"}


def main(argv: Optional[List[str]] = None) -> int:
    from rasa_sdk import utils

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--actions", default="actions", help="package with the custom actions")
    ap.add_argument("--port", type=int, default=int(os.environ.get("BACLOFEN_ACTIONS_PORT", 5055)))
    ap.add_argument("--bind", default=None, help=f"address to listen on (default ${BIND_ENV} or 127.0.0.1)")
    utils.add_logging_level_option_arguments(ap)
    args = ap.parse_args(argv)
    token = actions_token()
    max_body = positive_int(MAX_BODY_ENV, DEFAULT_MAX_BODY_BYTES)
    host = args.bind or bind_address()
    utils.configure_colored_logging(args.loglevel)
    utils.update_sanic_log_level()
    app = build_app(args.actions, token, max_body)
    logger.info("Action server on http://%s:%d (token required, bodies up to %d bytes)", host, args.port, max_body)
    app.run(host, args.port, workers=utils.number_of_sanic_workers(), access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
