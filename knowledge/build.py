"""Build the knowledge base: validate the YAML, then load it into the database.

    python -m knowledge.build [--database-url URL] [--knowledge-dir DIR]

Exit codes: 0 built or already up to date, 1 content invalid (every problem
printed as file:line: message), 2 database unreachable or failing.

The build is versioned by a sha256 over the canonical content. If the
database already holds that version nothing is written; otherwise all rows
are replaced in a single transaction, so readers see the old or the new
knowledge base, never a mix.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from sqlalchemy import delete, insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from knowledge.db import database_url, display_url, writer_engine
from knowledge.models import SCHEMA_VERSION, Base, Drug, DrugClass, Entry, Meta, Source, Term
from knowledge.schema import Knowledge, ValidationError, lexicon_terms, load_knowledge

SHORT_HASH = 12
# Arbitrary constant key: serialises concurrent builders on PostgreSQL.
_PG_LOCK_KEY = 7_211_446_001


@dataclass(frozen=True)
class BuildResult:
    version: str  # full sha256
    changed: bool  # False: the database already held this version
    entry_count: int
    term_count: int
    url: str  # display form, password hidden

    def summary(self) -> str:
        state = "built" if self.changed else "already up to date"
        return (
            f"knowledge base {self.version[:SHORT_HASH]} {state}: "
            f"{self.entry_count} entries, {self.term_count} terms ({self.url})"
        )


def canonical_content(knowledge: Knowledge) -> bytes:
    """The content as sorted, compact JSON: equal content gives equal bytes."""
    entries = [
        {
            "id": e.id, "topic": e.topic, "subtopic": e.subtopic, "title": e.title, "text": e.text,
            "questions": list(e.questions),
            "source": {"doc": e.source_doc, "section": e.source_section},
            "reviewed": e.reviewed.isoformat(),
        }
        for e in knowledge.entries
    ]
    document = {
        "schema_version": SCHEMA_VERSION,
        "sources": knowledge.sources,
        "lexicon": knowledge.lexicon,
        "entries": entries,  # order kept: it is the answer order
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def content_hash(knowledge: Knowledge) -> str:
    return hashlib.sha256(canonical_content(knowledge)).hexdigest()


def _tables_match_models(conn: Connection) -> bool:
    """True when every kb_ table is absent or has exactly the model's columns."""
    inspector = inspect(conn)
    for table in Base.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        existing = {c["name"] for c in inspector.get_columns(table.name)}
        if existing != {c.name for c in table.columns}:
            return False
    return True


def _prepare_tables(conn: Connection) -> None:
    if not _tables_match_models(conn):
        Base.metadata.drop_all(conn)
    Base.metadata.create_all(conn)


def _rows(knowledge: Knowledge) -> Dict[Any, List[Dict[str, Any]]]:
    lexicon = knowledge.lexicon
    return {
        Source: [{"key": k, "title": " ".join(v["title"].split()), "url": v.get("url"),
                  "region": str(v.get("region") or "US")} for k, v in knowledge.sources.items()],
        DrugClass: [{"id": k, "name": v["name"]} for k, v in lexicon["classes"].items()],
        Drug: [{"id": k, "name": v["name"], "class_id": v["class"]} for k, v in lexicon["drugs"].items()],
        Entry: [
            {
                "id": e.id, "position": i, "topic": e.topic, "subtopic": e.subtopic,
                "title": e.title or _title_from_id(e.id), "text": e.text,
                "source_doc": e.source_doc, "source_section": e.source_section, "reviewed": e.reviewed,
            }
            for i, e in enumerate(knowledge.entries)
        ],
        Term: [{"term": t.term, "kind": t.kind, "target_id": t.target_id} for t in lexicon_terms(lexicon)],
    }


def _title_from_id(entry_id: str) -> str:
    """Only for content written before entries had titles: "dosage-maximum" → "Dosage maximum"."""
    words = entry_id.replace("-", " ")
    return words[:1].upper() + words[1:]


def load(conn: Connection, knowledge: Knowledge, version: str) -> BuildResult:
    """Inside an open transaction: replace the content unless `version` is already loaded."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    _prepare_tables(conn)
    url = display_url(conn.engine.url)
    meta = conn.execute(select(Meta).where(Meta.id == 1)).first()
    if meta is not None and meta.version == version:
        return BuildResult(version, False, meta.entry_count, meta.term_count, url)
    for table in reversed(Base.metadata.sorted_tables):
        conn.execute(delete(table))
    rows = _rows(knowledge)
    for model, values in rows.items():  # dict order is FK-safe: parents first
        if values:
            conn.execute(insert(model), values)
    entry_count, term_count = len(rows[Entry]), len(rows[Term])
    conn.execute(
        insert(Meta),
        {
            "id": 1, "version": version, "built_at": dt.datetime.now(dt.timezone.utc),
            "entry_count": entry_count, "term_count": term_count,
        },
    )
    return BuildResult(version, True, entry_count, term_count, url)


def build(url: Optional[str] = None, knowledge_dir: Optional[Path] = None) -> BuildResult:
    """Validate and load. Raises ValidationError or SQLAlchemyError."""
    knowledge = load_knowledge(knowledge_dir)
    version = content_hash(knowledge)
    engine = writer_engine(database_url(url))
    try:
        with engine.begin() as conn:
            return load(conn, knowledge, version)
    finally:
        engine.dispose()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge.build", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: env BACLOFEN_KB_URL or sqlite:///build/knowledge.db)")
    parser.add_argument("--knowledge-dir", type=Path, help="folder with content/, sources.yml, lexicon.yml (default: knowledge/)")
    args = parser.parse_args(argv)
    try:
        result = build(args.database_url, args.knowledge_dir)
    except ValidationError as exc:
        for problem in exc.errors:
            print(problem, file=sys.stderr)
        print(f"knowledge base not built: {len(exc.errors)} problem(s)", file=sys.stderr)
        return 1
    except (SQLAlchemyError, OSError, ValueError) as exc:
        shown = display_url(database_url(args.database_url)) if _parses(args.database_url) else "the database"
        print(f"knowledge base not built: database error at {shown}: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0


def _parses(url: Optional[str]) -> bool:
    try:
        database_url(url)
        return True
    except (SQLAlchemyError, ValueError):
        return False


if __name__ == "__main__":
    sys.exit(main())
