"""Read-only query API over the built knowledge base, used by the actions.

One engine per process, created on first use from env BACLOFEN_KB_URL
(default sqlite:///build/knowledge.db); one session per call. The database
connection itself is read-only (SQLite `mode=ro`, PostgreSQL
`default_transaction_read_only`). Functions return frozen dataclasses, never
ORM objects, and any database failure surfaces as KnowledgeBaseUnavailable so
callers can show a safe apology.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import threading
from functools import lru_cache
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from knowledge import models
from knowledge.db import database_url, reader_engine
from knowledge.schema import normalise_term

SHORT_HASH = 12
NO_INFORMATION = "Our sources list no interaction information for {name} — ask your pharmacist."


class KnowledgeBaseUnavailable(RuntimeError):
    """The knowledge base cannot be read (missing, not built, or unreachable)."""


@dataclass(frozen=True)
class Entry:
    id: str
    topic: str
    subtopic: str
    text: str
    source_doc: str
    source_section: str
    source_title: str
    reviewed: dt.date
    title: str = ""
    source_url: Optional[str] = None
    source_region: str = "US"  # whose label the source is (knowledge/sources.yml `region`)


@dataclass(frozen=True)
class DrugMatch:
    term: str  # as asked
    drug_id: Optional[str]  # None when the term names a class
    drug_name: Optional[str]
    class_id: Optional[str]  # None: the lexicon has no interaction information
    class_name: Optional[str]

    @property
    def name(self) -> str:
        """What to call it in an answer."""
        return self.drug_name or self.class_name or self.term


@dataclass(frozen=True)
class InteractionAnswer:
    term: str
    match: Optional[DrugMatch]
    known: bool  # False: no information, the text says to ask a pharmacist
    text: str
    entries: Tuple[Entry, ...]  # the entries the text comes from (empty when not known)


@dataclass(frozen=True)
class KbVersion:
    version: str  # short content hash
    content_hash: str
    built_at: dt.datetime
    entry_count: int
    term_count: int


# ------------------------------------------------------------ connection

_engine: Optional[Engine] = None
_engine_lock = threading.Lock()


def get_engine() -> Engine:
    """The process's read-only engine, created on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            try:
                _engine = reader_engine(database_url())
            except (SQLAlchemyError, ValueError) as exc:
                raise KnowledgeBaseUnavailable(f"bad knowledge base URL: {exc}") from exc
        return _engine


def reset() -> None:
    """Drop the engine (e.g. after a fork or a URL change); the next call makes a new one."""
    global _engine
    with _engine_lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None
        _topic_entries.cache_clear()
        _interaction.cache_clear()
        _answerable.cache_clear()


@contextmanager
def _session() -> Iterator[Session]:
    engine = get_engine()
    try:
        with Session(engine, future=True) as session:
            yield session
    except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
        raise KnowledgeBaseUnavailable(f"knowledge base unavailable: {type(exc).__name__}") from exc


# --------------------------------------------------------------- entries


def _entry_query():  # type: ignore[no-untyped-def]
    return (
        select(models.Entry, models.Source.title, models.Source.url, models.Source.region)
        .outerjoin(models.Source, models.Source.key == models.Entry.source_doc)
        .order_by(models.Entry.position)
    )


def _to_entry(row: models.Entry, title: Optional[str], url: Optional[str] = None,
              region: Optional[str] = None) -> Entry:
    return Entry(
        id=row.id, topic=row.topic, subtopic=row.subtopic, text=row.text,
        source_doc=row.source_doc, source_section=row.source_section,
        source_title=title or row.source_doc, reviewed=row.reviewed,
        title=row.title, source_url=url, source_region=region or "US",
    )


def _entries_where(*conditions) -> List[Entry]:  # type: ignore[no-untyped-def]
    with _session() as session:
        rows = session.execute(_entry_query().where(*conditions)).all()
        return [_to_entry(*row) for row in rows]


def entries(topic: str, subtopics: Sequence[str] = ()) -> List[Entry]:
    """Entries of the first subtopic in `subtopics` that has any, else the topic's overview."""
    if not isinstance(topic, str):
        return []
    if isinstance(subtopics, str):  # a lone id passed by mistake
        subtopics = (subtopics,)
    found = _topic_entries(topic)
    by_subtopic: Dict[str, List[Entry]] = {}
    for item in found:
        by_subtopic.setdefault(item.subtopic, []).append(item)
    for subtopic in subtopics or ():
        if isinstance(subtopic, str) and by_subtopic.get(subtopic):
            return list(by_subtopic[subtopic])
    return list(by_subtopic.get("overview", []))


# The store is read-only while the process runs, so lookups are cached (make bench:
# 2–5 ms → microseconds per message). Failures are not cached; reset() clears both.
@lru_cache(maxsize=64)
def _topic_entries(topic: str) -> Tuple[Entry, ...]:
    return tuple(_entries_where(models.Entry.topic == topic))


def entry(entry_id: str) -> Optional[Entry]:
    if not isinstance(entry_id, str):
        return None
    found = _entries_where(models.Entry.id == entry_id)
    return found[0] if found else None


def answerable() -> Tuple[Entry, ...]:
    """Every entry a knowledge question can be answered with (emergency advice excluded),
    in authoring order: what the entry ranker's ids are looked up in (cached)."""
    return _answerable()


def entries_by_id(ids: Sequence[str]) -> List[Entry]:
    """The answerable entries with these ids, in the order asked; unknown ids are left out
    (the trained ranker may name an entry a newer knowledge base no longer has)."""
    known = {e.id: e for e in answerable()}
    return [known[i] for i in ids if isinstance(i, str) and i in known]


@lru_cache(maxsize=1)
def _answerable() -> Tuple[Entry, ...]:
    return tuple(_entries_where(models.Entry.topic != "emergency"))


# ----------------------------------------------------------------- drugs


def _lookup_keys(term: str) -> List[str]:
    """Exact phrase first, then a singular form ("benzos" → "benzo")."""
    keys = [term]
    if len(term) > 3 and term.endswith("s") and not term.endswith("ss"):
        keys.append(term[:-1])
    return keys


def _match(session: Session, asked: str, kind: str, target: str) -> Optional[DrugMatch]:
    if kind == "class":
        found = session.get(models.DrugClass, target)
        return DrugMatch(asked, None, None, found.id, found.name) if found else None
    drug = session.get(models.Drug, target)
    if drug is None:
        return None
    drug_class = session.get(models.DrugClass, drug.class_id) if drug.class_id else None
    return DrugMatch(
        asked, drug.id, drug.name,
        drug_class.id if drug_class else None, drug_class.name if drug_class else None,
    )


def _resolve(session: Session, term: str) -> Tuple[Optional[DrugMatch], bool]:
    """(match, is_baclofen). Lexicon phrases win over ids."""
    key = normalise_term(term)
    if not key or len(key) > 200:
        return None, False
    for candidate in _lookup_keys(key):
        found = session.get(models.Term, candidate)
        if found is not None:
            if found.kind == "baclofen":
                return None, True
            if found.kind in ("drug", "class"):
                return _match(session, term, found.kind, found.target_id), False
    as_id = re.sub(r"[\s\-]+", "_", key)
    for kind in ("drug", "class"):
        found_match = _match(session, term, kind, as_id)
        if found_match is not None:
            return found_match, False
    return None, False


def resolve_drug(term: str) -> Optional[DrugMatch]:
    """A drug name, brand, misspelling, drug id or class id → drug and class (None if unknown)."""
    if not isinstance(term, str):
        return None
    with _session() as session:
        return _resolve(session, term)[0]


def _display_name(term: object) -> str:
    """The user's word, echoed only when it looks like a plain medicine name."""
    cleaned = " ".join(term.split()) if isinstance(term, str) else ""
    if (
        not cleaned
        or len(cleaned) > 40
        or "safe" in cleaned.lower()
        or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 '\-./+]*", cleaned)
    ):
        return "that medicine"
    return cleaned


def _no_information(term: str, match: Optional[DrugMatch], name: str) -> InteractionAnswer:
    return InteractionAnswer(term, match, False, NO_INFORMATION.format(name=name), ())


def interaction(term: str) -> InteractionAnswer:
    """What our sources say about baclofen with this drug or class (cached per term)."""
    return _interaction(term) if isinstance(term, str) else _interaction_uncached(term)


@lru_cache(maxsize=1024)
def _interaction(term: str) -> InteractionAnswer:
    return _interaction_uncached(term)


def _interaction_uncached(term: str) -> InteractionAnswer:
    """What our sources say about baclofen with this drug or class.

    Unknown drugs and drugs the lexicon marks `class: null` get the fixed
    "no interaction information" wording; nothing is ever called safe.
    """
    asked = term if isinstance(term, str) else ""
    with _session() as session:
        match, is_baclofen = _resolve(session, asked) if asked else (None, False)
    if is_baclofen:
        found = entries("interactions", ("overview",))
        if found:
            return InteractionAnswer(asked, None, True, " ".join(e.text for e in found), tuple(found))
    if match is None:
        return _no_information(asked, None, _display_name(asked))
    # What the sources say about this drug itself ("tramadol") comes first, then its class.
    own = _entries_where(models.Entry.topic == "interactions", models.Entry.subtopic == match.drug_id) \
        if match.drug_id else []
    of_class = _entries_where(models.Entry.topic == "interactions", models.Entry.subtopic == match.class_id) \
        if match.class_id else []
    found = own + [e for e in of_class if e.id not in {o.id for o in own}]
    if not found:  # no information, or a class without content: say nothing rather than guess
        return _no_information(asked, match, match.name)
    return InteractionAnswer(asked, match, True, " ".join(e.text for e in found), tuple(found))


# --------------------------------------------------------------- version


def version() -> KbVersion:
    with _session() as session:
        meta = session.get(models.Meta, 1)
        if meta is None:
            raise KnowledgeBaseUnavailable("the knowledge base has not been built")
        built_at = meta.built_at
        if built_at.tzinfo is None:  # SQLite drops the zone; builds are stored in UTC
            built_at = built_at.replace(tzinfo=dt.timezone.utc)
        return KbVersion(meta.version[:SHORT_HASH], meta.version, built_at, meta.entry_count, meta.term_count)
