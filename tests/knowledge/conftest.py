"""Fixtures for the knowledge base tests.

`kb_url` gives an empty database on each backend (SQLite file, real
PostgreSQL); `point_store_at(url)` makes knowledge.store read from it.
Figures recorded with `kb_report` are printed in pytest's terminal summary,
so they show with or without -s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from knowledge import store
from knowledge.db import ENV_VAR
from tests.support.postgres import postgres_server  # noqa: F401  (session fixture)

FIXTURES = Path(__file__).parent / "fixtures"
_REPORT: List[str] = []


@pytest.fixture
def good_dir() -> Path:
    return FIXTURES / "good"


@pytest.fixture
def bad_dir() -> Path:
    return FIXTURES / "bad"


@pytest.fixture(params=["sqlite", "postgresql"])
def kb_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kb' / 'knowledge.db'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database("kb")


@pytest.fixture
def point_store_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Make knowledge.store use `url` (through BACLOFEN_KB_URL, as in production)."""

    def point(url: str) -> None:
        monkeypatch.setenv(ENV_VAR, url)
        store.reset()

    yield point
    store.reset()


@pytest.fixture
def kb_report() -> Callable[[str], None]:
    return _REPORT.append


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if _REPORT:
        terminalreporter.section("knowledge base figures")
        for line in _REPORT:
            terminalreporter.write_line(line)
