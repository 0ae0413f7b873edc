"""Reading channel settings: credentials.yml first, then the environment.

Secrets never live in the repository. credentials.yml may reference them as
`key: ${ENV_VAR}` (unquoted: Rasa 3.6 only substitutes plain YAML scalars, fails to
start if the variable is unset, and leaves a quoted "${X}" as the literal text), or
omit the key entirely, in which case the channel reads the documented variable itself.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, Optional

from rasa.shared.exceptions import InvalidConfigException

logger = logging.getLogger(__name__)


def setting(credentials: Optional[Dict[str, Any]], key: str, env: Optional[str] = None) -> Optional[str]:
    """The value for `key`, falling back to the environment variable `env`; None if unset."""
    value = (credentials or {}).get(key)
    if isinstance(value, str) and "${" in value:
        # A quoted "${X}" reaches us unexpanded: never use it as a secret.
        logger.warning("credentials key '%s' holds an unexpanded '%s'; quote-free ${VAR} is required",
                       key, value)
        value = None
    if value is None or (isinstance(value, str) and not value.strip()):
        value = os.environ.get(env, "") if env else ""
    value = str(value).strip() if value is not None else ""
    return value or None


def required(value: Optional[str], channel: str, key: str, env: str) -> str:
    """Refuse to start a channel without a secret it needs (as Rasa does for Slack)."""
    if not value:
        raise InvalidConfigException(
            f"The {channel} channel needs '{key}' in credentials.yml or the environment "
            f"variable {env}. Running it without that secret would be insecure."
        )
    return value
