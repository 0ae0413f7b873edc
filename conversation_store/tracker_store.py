"""A durable SQL tracker store whose cost per turn does not grow with the conversation.

Rasa's own SQLTrackerStore reads the whole session on every turn, counts it, and inserts
one row per event, so a turn at message 500 costs many times one at message 5, and the
action server is sent the whole session too. This store keeps, per conversation:

- one row in `conversations`: the latest *window* of events (at most
  BACLOFEN_TRACKER_WINDOW, cut at a turn boundary) and the slot values as they stood at
  the window's start, so nothing the dialogue needs is lost when old events drop out;
- every event, once, in `conversation_events` (the durable record), written in one
  batch per turn.

A turn therefore costs one SELECT by primary key, one UPDATE guarded by a version number
(a stale writer cannot overwrite a newer turn), and one multi-row INSERT. Connection errors
(a database restart) are retried with backoff for BACLOFEN_TRACKER_RETRY_SECONDS, off the
event loop, so other conversations keep being served meanwhile.

SQLite (the default, a file under BACLOFEN_DATA_DIR) for one machine; PostgreSQL by URL
for several instances.

Personal data (docs/privacy.md): what the person typed is redacted before it is stored,
published or kept between turns (privacy/events.py); conversations quiet for longer than
BACLOFEN_RETENTION_DAYS (default 30) are deleted, at most once every
BACLOFEN_RETENTION_INTERVAL_SECONDS (default 3600) while the server runs; and a turn in
which action_forget_conversation ran deletes everything kept for its conversation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Text, TypeVar

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SerializedTrackerAsText, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

import nlp.rasa_patches  # noqa: F401  (Rasa's event lookup by name, cached: rebuilding a window uses it)
from privacy import logs as privacy_logs
from privacy.events import redact_events
from privacy.forget import FORGET_ACTION

# Rasa's own logs (DEBUG quotes every message) and ours: redacted in this process.
privacy_logs.install()

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = 60
DEFAULT_CACHE = 256  # conversations whose tracker is kept between turns, per process
DEFAULT_RETRY_SECONDS = 20.0
DEFAULT_RETENTION_DAYS = 30.0
DEFAULT_RETENTION_INTERVAL = 3600.0  # seconds between automatic deletions of old conversations
ROOT = Path(__file__).resolve().parent.parent

# Attributes this store keeps on the tracker object it hands to Rasa, read back at save.
_LOADED = "_baclofen_loaded"  # events in the tracker when it was loaded or last saved
_PREFIX = "_baclofen_prefix"  # leading SlotSet events that restore the window's start slots
_VERSION = "_baclofen_version"  # events stored for the conversation when it was loaded
_SLOTS = "_baclofen_slots"  # the slot values at the window's start

metadata = sa.MetaData()

conversations = sa.Table(
    "conversations", metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    # How many events the conversation has stored: the optimistic-concurrency guard.
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False, index=True),
)

conversation_events = sa.Table(
    "conversation_events", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("type_name", sa.String(64), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text, nullable=False),
    # One row per event and position: a turn can never be stored twice.
    sa.UniqueConstraint("sender_id", "seq", name="uq_conversation_events_sender_seq"),
)
# Retention deletes events by age; created on existing databases too (_create_tables).
events_by_time = sa.Index("ix_conversation_events_timestamp", conversation_events.c.timestamp)


def default_url() -> str:
    """BACLOFEN_TRACKER_URL, else a SQLite file in BACLOFEN_DATA_DIR (default ./var)."""
    url = os.environ.get("BACLOFEN_TRACKER_URL", "").strip()
    if url:
        return url
    data_dir = Path(os.environ.get("BACLOFEN_DATA_DIR", ROOT / "var"))
    return f"sqlite:///{data_dir}/conversations.sqlite"


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None


def retention_days() -> float:
    """BACLOFEN_RETENTION_DAYS: how long a quiet conversation is kept (default 30, more than 0)."""
    days = _env_number("BACLOFEN_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
    if days <= 0:
        raise ValueError("BACLOFEN_RETENTION_DAYS must be more than 0 (days a conversation is kept)")
    return days


def forget_conversation(engine: Engine, sender_id: str) -> int:
    """Delete everything kept for one conversation; returns the events deleted."""
    with engine.begin() as conn:
        deleted = conn.execute(conversation_events.delete()
                               .where(conversation_events.c.sender_id == sender_id)).rowcount
        deleted += conn.execute(conversations.delete().where(conversations.c.sender_id == sender_id)).rowcount
    return deleted


def delete_older_than(engine: Engine, days: float, now: Optional[float] = None) -> "tuple[int, int]":
    """Delete conversations quiet for more than `days` (both tables) and any event older
    than that; returns (conversations, events) deleted."""
    cutoff = (time.time() if now is None else now) - days * 86400
    quiet = sa.select(conversations.c.sender_id).where(conversations.c.updated_at < cutoff)
    with engine.begin() as conn:
        events = conn.execute(conversation_events.delete()
                              .where(conversation_events.c.sender_id.in_(quiet))).rowcount
        events += conn.execute(conversation_events.delete()
                               .where(conversation_events.c.timestamp < cutoff)).rowcount
        convs = conn.execute(conversations.delete().where(conversations.c.updated_at < cutoff)).rowcount
    return convs, events


def create_engine(url: str) -> Engine:
    """One engine per process. SQLite gets WAL (readers never wait for the writer) and a
    busy timeout."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, future=True, connect_args={"timeout": 30, "check_same_thread": False})

        @sa_event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Deleted conversations are overwritten in the file, not left in free pages.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        return engine
    # No pre-ping (a round trip per turn): a connection that died with a server restart fails
    # its call, the pool drops it, and _call retries on a fresh one.
    return sa.create_engine(url, future=True, pool_size=5, max_overflow=5)


@dataclass(frozen=True)
class Stored:
    version: int
    start_slots: Dict[str, Any]
    events: List[Dict[str, Any]]
    unchanged: bool = False  # the cached tracker is current: no state was read


T = TypeVar("T")

# Errors worth retrying: the server went away or refused us; anything else is a bug.
_TRANSIENT = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError)


class BoundedSQLTrackerStore(TrackerStore, SerializedTrackerAsText):
    """Named in bot/endpoints.yml. `url`, `window` and `retry_seconds` may be given there;
    otherwise they come from BACLOFEN_TRACKER_URL, BACLOFEN_TRACKER_WINDOW and
    BACLOFEN_TRACKER_RETRY_SECONDS."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[str] = None,
        url: Optional[str] = None,
        window: Optional[int] = None,
        retry_seconds: Optional[float] = None,
        event_broker: Optional[EventBroker] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker, **kwargs)
        self.url = url or host or default_url()
        self.window = int(window or _env_number("BACLOFEN_TRACKER_WINDOW", DEFAULT_WINDOW))
        if self.window < 10:
            raise ValueError("BACLOFEN_TRACKER_WINDOW must be at least 10 events (about one turn)")
        self.retry_seconds = float(retry_seconds if retry_seconds is not None
                                   else _env_number("BACLOFEN_TRACKER_RETRY_SECONDS", DEFAULT_RETRY_SECONDS))
        self.cache_size = int(_env_number("BACLOFEN_TRACKER_CACHE", DEFAULT_CACHE))
        self.retention_days = retention_days()
        self.retention_interval = _env_number("BACLOFEN_RETENTION_INTERVAL_SECONDS", DEFAULT_RETENTION_INTERVAL)
        self._last_retention = float("-inf")  # the first save deletes what is already too old
        self._retention_task: Optional[asyncio.Task] = None
        # Trackers between turns, checked against the stored version on every retrieve, so a
        # turn handled by another instance is never missed; saves rebuilding the window.
        self._cache: "OrderedDict[str, DialogueStateTracker]" = OrderedDict()
        self.engine = create_engine(self.url)
        # A few threads: database calls never block the event loop that serves everyone else.
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tracker-store")
        self._create_tables()
        logger.info("Conversations are kept in %s (window %d events)", self.engine.url.render_as_string(hide_password=True), self.window)

    # ------------------------------------------------------------------ database calls

    def _create_tables(self) -> None:
        deadline = time.monotonic() + self.retry_seconds
        while True:
            try:
                metadata.create_all(self.engine)
                events_by_time.create(self.engine, checkfirst=True)  # tables made before it
                return
            except _TRANSIENT:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    async def _call(self, fn: Callable[[], T]) -> T:
        """Run a database call in the pool, retrying connection errors with backoff."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.retry_seconds
        pause = 0.05
        while True:
            try:
                return await loop.run_in_executor(self._pool, fn)
            except _TRANSIENT as e:
                if time.monotonic() + pause > deadline:
                    raise
                logger.warning("Conversation store unavailable (%s); retrying in %.2f s", type(e).__name__, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)

    def _load(self, sender_id: str, unless_version: Optional[int] = None) -> Optional[Stored]:
        """The stored window; only its version when that is `unless_version` (the cached one)."""
        state_unless = (conversations.c.state if unless_version is None else
                        sa.case((conversations.c.version == unless_version, sa.null()),
                                else_=conversations.c.state))
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(conversations.c.version, state_unless.label("state"))
                               .where(conversations.c.sender_id == sender_id)).first()
        if row is None:
            return None
        if row.state is None:
            return Stored(row.version, {}, [], unchanged=True)
        state = json.loads(row.state)
        return Stored(row.version, state.get("start_slots") or {}, state.get("events") or [])

    def _write(self, sender_id: str, version: Optional[int], state: Dict[str, Any],
               new_events: Sequence[Dict[str, Any]]) -> Optional[int]:
        """Store the new window and append the new events, in one transaction.

        Returns the new version, or None when the stored conversation moved on since this
        tracker was loaded (another writer got there first): then nothing is written."""
        new_version = (version or 0) + len(new_events)
        values = dict(version=new_version, state=json.dumps(state), updated_at=time.time())
        with self.engine.begin() as conn:
            if version is None:
                exists = conn.execute(sa.select(conversations.c.version)
                                      .where(conversations.c.sender_id == sender_id)).first()
                if exists is not None:
                    return None
                conn.execute(conversations.insert().values(sender_id=sender_id, **values))
            else:
                done = conn.execute(conversations.update()
                                    .where(conversations.c.sender_id == sender_id,
                                           conversations.c.version == version)
                                    .values(**values))
                if done.rowcount != 1:
                    return None
            if new_events:
                conn.execute(conversation_events.insert(),
                             [_event_row(sender_id, (version or 0) + i, e) for i, e in enumerate(new_events)])
        return new_version

    def _append_only(self, sender_id: str, new_events: Sequence[Dict[str, Any]]) -> None:
        """Keep a stale writer's events in the durable record without touching the window,
        so no turn the person sent is lost even when it could not join the conversation."""
        if not new_events:
            return
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(conversations.c.version)
                               .where(conversations.c.sender_id == sender_id).with_for_update()).first()
            start = row.version if row is not None else 0
            conn.execute(conversation_events.insert(),
                         [_event_row(sender_id, start + i, e) for i, e in enumerate(new_events)])
            conn.execute(conversations.update().where(conversations.c.sender_id == sender_id)
                         .values(version=start + len(new_events)))

    def _all_events(self, sender_id: str) -> List[Dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(conversation_events.c.data)
                                .where(conversation_events.c.sender_id == sender_id)
                                .order_by(conversation_events.c.seq)).all()
        return [json.loads(r.data) for r in rows]

    def _keys(self) -> List[str]:
        with self.engine.connect() as conn:
            return [r.sender_id for r in conn.execute(sa.select(conversations.c.sender_id))]

    # ------------------------------------------------------------------ Rasa's interface

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        cached = self._cache.pop(sender_id, None)
        if cached is not None and len(cached.events) != getattr(cached, _LOADED, -1):
            cached = None  # a turn that failed before saving left events in it
        known = getattr(cached, _VERSION, None) if cached is not None else None
        stored = await self._call(lambda: self._load(sender_id, known))
        if stored is None:
            return None
        if stored.unchanged and cached is not None:
            return cached
        return self._tracker(sender_id, stored)

    async def retrieve_full_tracker(self, conversation_id: Text) -> Optional[DialogueStateTracker]:
        """Every event of every session, from the durable record (the HTTP API's view)."""
        events = await self._call(lambda: self._all_events(conversation_id))
        if not events:
            return None
        return DialogueStateTracker.from_dict(conversation_id, events, self.domain.slots)

    async def keys(self) -> Iterable[Text]:
        return await self._call(self._keys)

    async def save(self, tracker: DialogueStateTracker) -> None:
        events = list(tracker.events)
        loaded: int = getattr(tracker, _LOADED, 0)
        prefix: int = getattr(tracker, _PREFIX, 0)
        version: Optional[int] = getattr(tracker, _VERSION, None)
        # What the person typed is redacted before it is published, stored or kept.
        redact_events(events[loaded:])
        if any(isinstance(e, ActionExecuted) and e.action_name == FORGET_ACTION for e in events[loaded:]):
            await self._forget_on_request(tracker, events)
            return
        new_events = [e.as_dict() for e in events[loaded:]]
        if version is not None and not new_events:
            return  # nothing happened since the last save
        self._start_retention()
        if self.event_broker is not None:
            # What is new is known here; Rasa's stream_events would read and rebuild the
            # stored conversation again, only to diff it.
            await self._stream_new_events(self.event_broker, events[loaded:], tracker.sender_id)
        start_slots, window = self._window(tracker.sender_id, events, prefix, getattr(tracker, _SLOTS, {}))
        state = {"start_slots": start_slots, "events": [e.as_dict() for e in window]}
        sender = tracker.sender_id
        written = await self._call(lambda: self._write(sender, version, state, new_events))
        if written is None:
            logger.error("Conversation %s changed while this turn was handled (a retried turn or an "
                         "outage); its %d new events are kept in the record but not in the window.",
                         sender, len(new_events))
            self._cache.pop(sender, None)
            await self._call(lambda: self._append_only(sender, new_events))
            return
        # The next save in this turn only writes what comes after this one.
        setattr(tracker, _LOADED, len(events))
        setattr(tracker, _VERSION, written)
        if len(window) < len(events) - prefix:
            # Events dropped out of the window: the next turn gets what a reload would give.
            tracker = self._tracker_of(sender, start_slots, window, written)
        self._remember(tracker)

    async def _forget_on_request(self, tracker: DialogueStateTracker, events: List[Event]) -> None:
        """The person asked to delete the conversation: delete every row kept for it and
        its kept tracker; the next message starts a new conversation. The event broker gets
        only the deletion itself, so its consumers can delete what they hold."""
        sender = tracker.sender_id
        self._cache.pop(sender, None)
        if self.event_broker is not None:
            marker = [e for e in events[getattr(tracker, _LOADED, 0):]
                      if isinstance(e, ActionExecuted) and e.action_name == FORGET_ACTION]
            await self._stream_new_events(self.event_broker, marker, sender)
        deleted = await self._call(lambda: forget_conversation(self.engine, sender))
        logger.info("Conversation %s deleted on request (%d rows)", sender, deleted)
        # A later save in this turn stores only what comes after the deletion.
        setattr(tracker, _LOADED, len(events))
        setattr(tracker, _PREFIX, len(events))
        setattr(tracker, _VERSION, None)
        setattr(tracker, _SLOTS, {})

    def _start_retention(self) -> None:
        """Delete conversations past BACLOFEN_RETENTION_DAYS, in the background, at most once
        per interval: the turn that starts it does not wait for it."""
        now = time.monotonic()
        if now - self._last_retention < self.retention_interval:
            return
        if self._retention_task is not None and not self._retention_task.done():
            return
        self._last_retention = now
        self._retention_task = asyncio.get_running_loop().create_task(self._apply_retention())

    async def _apply_retention(self) -> None:
        try:
            convs, events = await self._call(lambda: delete_older_than(self.engine, self.retention_days))
        except Exception:  # the next interval tries again; a turn must not fail for this
            logger.exception("Deleting conversations older than %s days failed", self.retention_days)
            return
        if convs or events:
            logger.info("Deleted %d conversations and %d events older than %s days",
                        convs, events, self.retention_days)

    def _remember(self, tracker: DialogueStateTracker) -> None:
        """Keep the saved tracker for the next turn (most recently used conversations)."""
        if self.cache_size <= 0:
            return
        self._cache[tracker.sender_id] = tracker
        self._cache.move_to_end(tracker.sender_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    # ------------------------------------------------------------------ the window

    def _tracker(self, sender_id: str, stored: Stored) -> DialogueStateTracker:
        events = [e for e in (Event.from_parameters(d) for d in stored.events) if e]
        return self._tracker_of(sender_id, stored.start_slots, events, stored.version)

    def _tracker_of(self, sender_id: str, start_slots: Dict[str, Any], window: Sequence[Event],
                    version: int) -> DialogueStateTracker:
        """A window as a tracker: first the slots as they stood at its start (as SlotSet
        events, so policies replaying past states see them), then its events."""
        first_ts = window[0].timestamp if window else None
        prefix = [SlotSet(name, value, timestamp=first_ts) for name, value in start_slots.items()]
        tracker = DialogueStateTracker.from_events(sender_id, [*prefix, *window], self.domain.slots)
        setattr(tracker, _LOADED, len(tracker.events))
        setattr(tracker, _PREFIX, len(prefix))
        setattr(tracker, _VERSION, version)
        setattr(tracker, _SLOTS, dict(start_slots))
        return tracker

    def _window(self, sender_id: str, events: List[Event], prefix: int,
                start_slots: Dict[str, Any]) -> "tuple[Dict[str, Any], List[Event]]":
        """The events to keep (the current session, at most `window`, starting at a turn)
        and the slot values at their start."""
        body = events[prefix:]
        start = _session_start(body)
        if len(body) - start > self.window:
            start = _turn_start(body, len(body) - self.window)
        if start == 0:
            return start_slots, body
        if _session_start(body) == start:
            # A new session began there: nothing carries over unless the session start
            # itself set it (those SlotSets follow it and stay in the window).
            return {}, body[start:]
        replay = [SlotSet(k, v) for k, v in start_slots.items()] + body[:start]
        before = DialogueStateTracker.from_events(sender_id, replay, self.domain.slots)
        kept = {name: slot.value for name, slot in before.slots.items()
                if slot.value != slot.initial_value}
        return kept, body[start:]


def _session_start(events: Sequence[Event]) -> int:
    """Index where the latest session begins (its action_session_start), else 0."""
    for i in range(len(events) - 1, -1, -1):
        if isinstance(events[i], SessionStarted):
            if i > 0 and isinstance(events[i - 1], ActionExecuted) and events[i - 1].action_name == "action_session_start":
                return i - 1
            return i
    return 0


def _turn_start(events: Sequence[Event], earliest: int) -> int:
    """The first turn boundary at or after `earliest`: an action_listen followed by what
    the person said. Falls back to `earliest` for one very long turn."""
    for i in range(earliest, len(events) - 1):
        e = events[i]
        if isinstance(e, ActionExecuted) and e.action_name == "action_listen" and isinstance(events[i + 1], UserUttered):
            return i
    return earliest


def _event_row(sender_id: str, seq: int, data: Dict[str, Any]) -> Dict[str, Any]:
    parse = data.get("parse_data") or {}
    return dict(
        sender_id=sender_id, seq=seq, type_name=str(data.get("event", ""))[:64],
        timestamp=data.get("timestamp"),
        intent_name=((parse.get("intent") or {}).get("name") or None),
        action_name=(data.get("name") if data.get("event") == "action" else None),
        data=json.dumps(data),
    )


def _no_silent_fallback() -> None:
    """Rasa wraps every tracker store in FailSafeTrackerStore, which on any error carries on
    with an empty in-memory conversation: the person gets an answer that ignores all they
    said, and the turn is never stored. This store rides out outages itself (retries); past
    that, the turn must fail, so the channel guard sends its apology. So it is not wrapped."""
    from rasa.core import agent as rasa_agent

    original = rasa_agent.Agent._create_tracker_store
    if getattr(original, "_baclofen", False):
        return

    def create(store: Optional[TrackerStore], domain: Domain) -> TrackerStore:
        if isinstance(store, BoundedSQLTrackerStore):
            store.domain = domain
            return store
        return original(store, domain)

    create._baclofen = True  # type: ignore[attr-defined]
    rasa_agent.Agent._create_tracker_store = staticmethod(create)  # type: ignore[assignment]


_no_silent_fallback()
