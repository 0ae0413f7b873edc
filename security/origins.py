"""Which web origins may talk to the bot: CORS on REST and the Origin check on socket.io.

BACLOFEN_ALLOWED_ORIGINS is a comma-separated list ("https://clinic.example,https://www.clinic.example").
Unset, only the example chat page's own origin is allowed (http://127.0.0.1:<web port> and
http://localhost:<web port>), so a page on another site cannot drive a user's chat.
"""

from __future__ import annotations

import os
from typing import List, Mapping, Optional

ALLOWED_ORIGINS_ENV = "BACLOFEN_ALLOWED_ORIGINS"
DEFAULT_WEB_PORT = 8080


def allowed_origins(env: Optional[Mapping[str, str]] = None) -> List[str]:
    """The configured origins, without trailing slashes; the example page's by default."""
    env = os.environ if env is None else env
    raw = env.get(ALLOWED_ORIGINS_ENV, "")
    origins = [o.strip().rstrip("/") for o in raw.split(",") if o.strip()]
    if origins:
        return origins
    port = env.get("BACLOFEN_WEB_PORT", "").strip() or str(DEFAULT_WEB_PORT)
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def origin_allowed(origin: Optional[str], env: Optional[Mapping[str, str]] = None) -> bool:
    """True for an allowed Origin header; False for any other (a missing Origin is the
    caller's decision: browsers always send one on cross-site requests)."""
    if not origin:
        return False
    return origin.strip().rstrip("/") in allowed_origins(env)
