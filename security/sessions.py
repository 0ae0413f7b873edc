"""Server-issued, signed chat session ids for the socket.io channel (the web widget).

A session id is `<32 hex random>-<24 chars of base64url HMAC-SHA256 of it>` (57 characters,
which the widget's session-id check already accepts). Only ids this server signed are
continued; any other id a client presents (unsigned, forged, from another deployment) is
replaced by a fresh one, so a client can never pick or guess its way into a conversation.

The key: BACLOFEN_SESSION_SECRET (at least 32 characters). Unset, a random key is created
once in the data dir (BACLOFEN_DATA_DIR, default var/) as `session_secret` (mode 0600) and
reused, so restarts keep sessions and `make run` needs no set-up. Several instances behind
one address must share the key: set the same BACLOFEN_SESSION_SECRET on all of them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from pathlib import Path
from typing import Mapping, Optional

logger = logging.getLogger(__name__)

SESSION_SECRET_ENV = "BACLOFEN_SESSION_SECRET"
DATA_DIR_ENV = "BACLOFEN_DATA_DIR"
SECRET_FILE = "session_secret"
MIN_SECRET_CHARS = 32
ROOT = Path(__file__).resolve().parent.parent
_TOKEN = re.compile(r"^([0-9a-f]{32})-([A-Za-z0-9_-]{24})$")


class SessionSecretError(RuntimeError):
    """BACLOFEN_SESSION_SECRET is set but too short to be a key."""


class SessionSigner:
    """Issues and verifies signed session ids with one secret key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _signature(self, raw: str) -> str:
        digest = hmac.new(self._key, raw.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii")[:24]

    def issue(self) -> str:
        """A fresh session id."""
        raw = secrets.token_hex(16)
        return f"{raw}-{self._signature(raw)}"

    def verified(self, token: object) -> Optional[str]:
        """The token if this server signed it, else None."""
        if not isinstance(token, str):
            return None
        match = _TOKEN.match(token)
        if match is None:
            return None
        raw, signature = match.groups()
        return token if hmac.compare_digest(signature, self._signature(raw)) else None


def data_dir(env: Optional[Mapping[str, str]] = None) -> Path:
    env = os.environ if env is None else env
    raw = env.get(DATA_DIR_ENV, "").strip()
    path = Path(raw) if raw else ROOT / "var"
    return path if path.is_absolute() else ROOT / path


def load_key(env: Optional[Mapping[str, str]] = None) -> bytes:
    """The signing key: from the environment, else the data dir's key file (created once)."""
    env = os.environ if env is None else env
    configured = env.get(SESSION_SECRET_ENV, "").strip()
    if configured:
        if len(configured) < MIN_SECRET_CHARS:
            raise SessionSecretError(
                f"{SESSION_SECRET_ENV} must be at least {MIN_SECRET_CHARS} characters "
                "(e.g. the output of `openssl rand -hex 32`)")
        return configured.encode("utf-8")
    path = data_dir(env) / SECRET_FILE
    try:
        return _read_or_create(path)
    except OSError as e:
        # A read-only data dir: sessions still work, but end when the server restarts.
        logger.warning("cannot keep the session key in %s (%s); chat sessions will not survive a "
                       "restart: set %s", path, e.strerror, SESSION_SECRET_ENV)
        return secrets.token_bytes(32)


def _read_or_create(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: when two servers start at once, one writes and the other reads its key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(20):  # the other server may be between creating and writing it
            key = path.read_text().strip()
            if len(key) >= MIN_SECRET_CHARS:
                return key.encode("ascii")
            time.sleep(0.05)
        raise OSError(0, "the key file is empty or too short") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key.encode("ascii")
