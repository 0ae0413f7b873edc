"""The trained model's NLU, loaded once per test session, for tests that need a real parse
(intent ranking, lexicon entities and the entry ranking the actions decide from)."""

from __future__ import annotations

import asyncio
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "baclofen.tar.gz"


@lru_cache(maxsize=1)
def _agent():  # type: ignore[no-untyped-def]
    from rasa.core.agent import Agent
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    if not MODEL.is_file():
        raise FileNotFoundError(f"no trained model at {MODEL}: run `make build` first")
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    return Agent.load(str(MODEL))


def parse(text: str) -> Dict[str, Any]:
    """What the server's NLU makes of `text` (the tracker's latest_message)."""
    return asyncio.run(_agent().parse_message(text))
