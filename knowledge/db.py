"""Database URL and engine construction shared by the builder and the store.

The URL comes from `--database-url`, else env BACLOFEN_KB_URL, else
`sqlite:///build/knowledge.db`. Relative SQLite paths are taken relative to
the repository root so the builder and the action server agree whatever
their working directory.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Optional

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_VAR = "BACLOFEN_KB_URL"
DEFAULT_URL = "sqlite:///build/knowledge.db"


def database_url(override: Optional[str] = None) -> URL:
    """The knowledge base URL, with a relative SQLite path made absolute."""
    url = make_url(override or os.environ.get(ENV_VAR) or DEFAULT_URL)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        if not path.is_absolute():
            url = url.set(database=str(REPO_ROOT / path))
    return url


def display_url(url: URL) -> str:
    """The URL for messages and logs: never shows a password."""
    return url.render_as_string(hide_password=True)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise ValueError("the knowledge base needs a SQLite file, not an in-memory database")
    return Path(url.database)


def writer_engine(url: URL) -> Engine:
    """Engine for the builder. On SQLite, make DDL transactional too.

    pysqlite does not emit BEGIN before DDL, so without this a failed build
    could leave dropped or half-filled tables behind (SQLAlchemy's documented
    recipe). BEGIN IMMEDIATE takes the write lock up front so two builders
    cannot both decide the database is out of date.
    """
    if url.get_backend_name() != "sqlite":
        return create_engine(url, future=True, pool_pre_ping=True)
    _sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def reader_engine(url: URL) -> Engine:
    """Read-only engine for the store: the database itself refuses writes."""
    if url.get_backend_name() == "sqlite":
        # mode=ro opens the file read-only and fails if it does not exist,
        # instead of silently creating an empty database.
        uri = _sqlite_path(url).resolve().as_uri() + "?mode=ro"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, check_same_thread=False)

        return create_engine("sqlite://", creator=connect, future=True)
    if url.get_backend_name() == "postgresql":
        return create_engine(
            url,
            future=True,
            pool_pre_ping=True,
            connect_args={
                "options": "-c default_transaction_read_only=on",
                "connect_timeout": 5,
            },
        )
    return create_engine(url, future=True, pool_pre_ping=True)
