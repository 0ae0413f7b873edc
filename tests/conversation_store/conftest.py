"""Fixtures for the conversation store: the real domain, and stores on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest
from rasa.shared.core.domain import Domain

from conversation_store.tracker_store import BoundedSQLTrackerStore
from tests.support.postgres import postgres_server  # noqa: F401  (session fixture)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def domain() -> Domain:
    return Domain.load(str(ROOT / "bot" / "domain.yml"))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'conversations.sqlite'}"
    return request.getfixturevalue("postgres_server").create_database("conv")


@pytest.fixture
def make_store(domain: Domain, store_url: str) -> Iterator[Callable[..., BoundedSQLTrackerStore]]:
    """A new store on the same database each call: a second process, or a restart."""
    made = []

    def make(**kwargs: object) -> BoundedSQLTrackerStore:
        store = BoundedSQLTrackerStore(domain=domain, url=store_url, **kwargs)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make
    for store in made:
        store.engine.dispose()
