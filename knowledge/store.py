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
import math
import re
import sqlite3
import threading
from functools import lru_cache
from collections import Counter
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
    global _engine, _search_cache
    with _engine_lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None
        _search_cache = None
        _topic_entries.cache_clear()
        _interaction.cache_clear()


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
        select(models.Entry, models.Source.title)
        .outerjoin(models.Source, models.Source.key == models.Entry.source_doc)
        .order_by(models.Entry.position)
    )


def _to_entry(row: models.Entry, title: Optional[str]) -> Entry:
    return Entry(
        id=row.id, topic=row.topic, subtopic=row.subtopic, text=row.text,
        source_doc=row.source_doc, source_section=row.source_section,
        source_title=title or row.source_doc, reviewed=row.reviewed,
    )


def _entries_where(*conditions) -> List[Entry]:  # type: ignore[no-untyped-def]
    with _session() as session:
        rows = session.execute(_entry_query().where(*conditions)).all()
        return [_to_entry(entry, title) for entry, title in rows]


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
    if match.class_id is None:
        return _no_information(asked, match, match.name)
    found = _entries_where(models.Entry.topic == "interactions", models.Entry.subtopic == match.class_id)
    if not found:  # a class without content: say nothing rather than guess
        return _no_information(asked, match, match.name)
    return InteractionAnswer(asked, match, True, " ".join(e.text for e in found), tuple(found))


# ---------------------------------------------------------------- search

_STOPWORDS = frozenset(
    "a about after again all also am an and any are as at be been before being but by can could "
    "did do does doing for from get got had has have having he her him his how i if in into is it "
    "its just me might more most my no not of on or our out should so some such than that the their "
    "them then there these they this those to too up very was we were what when where which while "
    "who why will with would you your baclofen".split()
)


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _tokens(text: str) -> List[str]:
    return [_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOPWORDS]


@dataclass(frozen=True)
class _SearchIndex:
    version: Optional[str]
    entries: Tuple[Entry, ...]
    counts: Tuple[Counter, ...]
    document_frequency: Dict[str, int]
    average_length: float


_search_cache: Optional[_SearchIndex] = None


def _index() -> _SearchIndex:
    """BM25 index over the entries, rebuilt only when the knowledge base version changes."""
    global _search_cache
    with _session() as session:
        version = session.execute(select(models.Meta.version).where(models.Meta.id == 1)).scalar()
        cached = _search_cache
        if cached is not None and cached.version == version:
            return cached
        rows = session.execute(_entry_query().where(models.Entry.topic != "emergency")).all()
        found = tuple(_to_entry(e, title) for e, title in rows)
    # Topic and subtopic words count too, so "side effects" finds side_effects entries.
    counts = tuple(
        Counter(_tokens(f"{e.text} {e.topic.replace('_', ' ')} {e.subtopic.replace('_', ' ')}")) for e in found
    )
    frequency: Counter = Counter()
    for c in counts:
        frequency.update(c.keys())
    average = sum(sum(c.values()) for c in counts) / len(counts) if counts else 0.0
    index = _SearchIndex(version, found, counts, dict(frequency), average)
    _search_cache = index
    return index


def search(text: str, limit: int = 3) -> List[Entry]:
    """Best-matching entries for a free-text question (BM25 over entry text).

    Emergency entries are left out: those are reached through the red-flag
    detector, not through a loose word match.
    """
    if not isinstance(text, str) or not text.strip():
        return []
    limit = max(1, min(int(limit), 20)) if isinstance(limit, int) else 3
    query = set(_tokens(text[:2000]))
    index = _index()
    if not query or not index.entries:
        return []
    n = len(index.entries)
    k1, b = 1.2, 0.75
    scored = []
    for position, (item, counts) in enumerate(zip(index.entries, index.counts)):
        length = sum(counts.values()) or 1
        score = 0.0
        for word in query:
            tf = counts.get(word, 0)
            if tf:
                df = index.document_frequency[word]
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / index.average_length))
        if score > 0:
            scored.append((-score, position, item))
    scored.sort(key=lambda s: (s[0], s[1]))
    return [item for _, _, item in scored[:limit]]


# ------------------------------------------------------- version, sources


def version() -> KbVersion:
    with _session() as session:
        meta = session.get(models.Meta, 1)
        if meta is None:
            raise KnowledgeBaseUnavailable("the knowledge base has not been built")
        built_at = meta.built_at
        if built_at.tzinfo is None:  # SQLite drops the zone; builds are stored in UTC
            built_at = built_at.replace(tzinfo=dt.timezone.utc)
        return KbVersion(meta.version[:SHORT_HASH], meta.version, built_at, meta.entry_count, meta.term_count)


def source_line(item: Entry) -> str:
    """E.g. "Source: FDA label for baclofen tablets, Dosage and Administration." """
    title = re.sub(r"\s*\([^)]*\)", "", item.source_title or item.source_doc).strip(" .,;")
    if len(title) > 90:
        title = title[:90].rsplit(" ", 1)[0].rstrip(" ,;") + "…"
    section = item.source_section.strip().rstrip(".")
    return f"Source: {title}, {section}." if section else f"Source: {title}."
