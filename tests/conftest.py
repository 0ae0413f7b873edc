"""Shared fixtures: the repo on sys.path, and the real running stack for end-to-end tests."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "scripts"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

os.environ.setdefault("BACLOFEN_KB_URL", f"sqlite:///{ROOT}/build/knowledge.db")
os.environ.setdefault("BACLOFEN_SPACY_PATH", str(ROOT / "build" / "spacy" / "baclofen_nlp"))

from stack import Stack, free_port  # noqa: E402
from bench.servers import Redis  # noqa: E402


def start_stack(**kwargs) -> Stack:
    """A stack on free ports with its own throwaway conversation store (unless one is given)."""
    if "tracker_url" not in kwargs:
        kwargs["tracker_url"] = f"sqlite:///{tempfile.mkdtemp(prefix='baclofen-test-')}/conversations.sqlite"
    stack = Stack(rasa_port=free_port(), actions_port=free_port(), web_port=free_port(), **kwargs)
    stack.start()
    return stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The real product (action server, Rasa server with our channels, web page) on free ports.

    Tests that stop a part must start their own with start_stack() instead.
    """
    s = start_stack()
    try:
        yield s
    finally:
        s.stop()


# A real redis-server on a free loopback port (bench/servers.py), for the lock store and rate limits.
@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Redis]:
    server = Redis(tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
