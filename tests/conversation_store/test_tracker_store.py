"""The durable tracker store: conversations survive a restart, a turn's cost is bounded,
a stale writer cannot overwrite a newer turn, and every event is kept once.

Each test runs on SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Callable, List, Optional

import sqlalchemy as sa
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from conversation_store.tracker_store import BoundedSQLTrackerStore, conversation_events, conversations
from tests.support.postgres import start_postgres

Make = Callable[..., BoundedSQLTrackerStore]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def turn(n: int, slots: Optional[dict] = None) -> List[Event]:
    """What one turn adds, in Rasa's order."""
    events: List[Event] = [UserUttered(f"question {n}", {"name": "ask_side_effects", "confidence": 1.0})]
    events += [SlotSet(k, v) for k, v in (slots or {}).items()]
    events += [ActionExecuted("action_answer"), BotUttered(f"answer {n}"), ActionExecuted("action_listen")]
    return events


async def new_conversation(store: BoundedSQLTrackerStore, sender: str) -> DialogueStateTracker:
    """What Rasa does for a first message: a fresh tracker, saved, then the session start."""
    tracker = DialogueStateTracker(sender, store.domain.slots)
    await store.save(tracker)
    for e in [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]:
        tracker.update(e)
    await store.save(tracker)
    return tracker


async def add_turn(store: BoundedSQLTrackerStore, sender: str, n: int, slots: Optional[dict] = None) -> DialogueStateTracker:
    tracker = await store.retrieve(sender)
    assert tracker is not None
    for e in turn(n, slots):
        tracker.update(e)
    await store.save(tracker)
    return tracker


def stored_rows(store: BoundedSQLTrackerStore, sender: str) -> List[str]:
    with store.engine.connect() as conn:
        return [r.type_name for r in conn.execute(
            sa.select(conversation_events.c.type_name).where(conversation_events.c.sender_id == sender)
            .order_by(conversation_events.c.seq))]


def test_a_conversation_survives_a_restart(make_store: Make) -> None:
    store = make_store()
    run(new_conversation(store, "alice"))
    run(add_turn(store, "alice", 1, {"population": "children", "topic": "dosage"}))
    restarted = make_store()  # a new process on the same database
    tracker = run(restarted.retrieve("alice"))
    assert tracker is not None
    assert tracker.get_slot("population") == "children"
    assert tracker.get_slot("topic") == "dosage"
    assert tracker.latest_message.text == "question 1"
    assert run(restarted.retrieve("bob")) is None
    assert set(run(restarted.keys())) == {"alice"}


def test_what_is_loaded_and_sent_stays_bounded_and_keeps_old_slots(make_store: Make) -> None:
    store = make_store(window=40)
    run(new_conversation(store, "long"))
    run(add_turn(store, "long", 0, {"population": "older_adults", "drug": ["alcohol"]}))
    sizes = []
    for n in range(1, 301):
        tracker = run(add_turn(store, "long", n, {"topic": "side_effects"} if n == 150 else None))
        sizes.append(len(json.dumps(tracker.current_state(EventVerbosity.ALL))))
    tracker = run(store.retrieve("long"))
    assert tracker is not None
    # Set in the first turn, 300 turns ago, long out of the window: still there.
    assert tracker.get_slot("population") == "older_adults"
    assert tracker.get_slot("drug") == ["alcohol"]
    assert tracker.get_slot("topic") == "side_effects"
    # At most the window plus the restored slots; it starts at a turn.
    assert len(tracker.events) <= 40 + 3
    body = list(tracker.events)[3:]
    assert isinstance(body[0], ActionExecuted) and body[0].action_name == "action_listen"
    assert isinstance(body[1], UserUttered)
    # What the action server is sent at turn 300 is no bigger than at turn 50.
    assert max(sizes[250:]) <= 1.1 * max(sizes[40:60])
    # Every event of the 301 turns is in the durable record, once, in order.
    types = stored_rows(store, "long")
    assert len(types) == 3 + 301 * 4 + 3  # session start, the turns, three SlotSets
    assert types.count("user") == 301


def test_the_full_tracker_has_every_event(make_store: Make) -> None:
    store = make_store(window=20)
    run(new_conversation(store, "full"))
    for n in range(30):
        run(add_turn(store, "full", n))
    full = run(store.retrieve_full_tracker("full"))
    assert full is not None
    assert [e.text for e in full.events if isinstance(e, UserUttered)] == [f"question {n}" for n in range(30)]


def test_a_stale_writer_does_not_overwrite_a_newer_turn(make_store: Make) -> None:
    store = make_store()
    run(new_conversation(store, "race"))
    first = run(store.retrieve("race"))
    second = run(store.retrieve("race"))  # loaded at the same version, as after a lost lock
    for e in turn(1, {"population": "children"}):
        first.update(e)
    run(store.save(first))
    for e in turn(2, {"population": "adults"}):
        second.update(e)
    run(store.save(second))
    tracker = run(store.retrieve("race"))
    assert tracker.get_slot("population") == "children"
    assert tracker.latest_message.text == "question 1"
    # The stale turn is not lost: it is in the record, after the first, and nothing twice.
    with store.engine.connect() as conn:
        texts = [json.loads(r.data).get("text") for r in conn.execute(
            sa.select(conversation_events.c.data).where(conversation_events.c.type_name == "user")
            .order_by(conversation_events.c.seq))]
    assert texts == ["question 1", "question 2"]


def test_saving_twice_stores_nothing_twice(make_store: Make) -> None:
    store = make_store()
    tracker = run(new_conversation(store, "twice"))
    for e in turn(1):
        tracker.update(e)
    run(store.save(tracker))
    run(store.save(tracker))  # Rasa may save again with nothing new
    assert len(stored_rows(store, "twice")) == 3 + 4


def test_a_new_session_starts_the_window_afresh(make_store: Make) -> None:
    store = make_store()
    run(new_conversation(store, "sess"))
    run(add_turn(store, "sess", 1, {"population": "children"}))
    tracker = run(store.retrieve("sess"))
    for e in [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]:
        tracker.update(e)
    for e in turn(2):
        tracker.update(e)
    run(store.save(tracker))
    again = run(store.retrieve("sess"))
    assert again.get_slot("population") is None  # carry_over_slots_to_new_session: false
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["question 2"]


def test_one_row_per_conversation(make_store: Make) -> None:
    store = make_store()
    for sender in ("a", "b", "c"):
        run(new_conversation(store, sender))
        run(add_turn(store, sender, 1))
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(conversations)).scalar() == 3


def test_a_postgresql_restart_is_ridden_out_without_losing_a_turn(domain) -> None:  # type: ignore[no-untyped-def]
    server = start_postgres()  # its own server: this test stops it
    try:
        store = BoundedSQLTrackerStore(domain=domain, url=server.create_database("restart"), retry_seconds=30)
        run(new_conversation(store, "p"))
        run(add_turn(store, "p", 1, {"population": "children"}))
        server.halt()
        restarter = threading.Timer(1.5, server.start)
        restarter.start()
        try:
            run(add_turn(store, "p", 2))  # waits out the outage, then is stored
            run(add_turn(store, "p", 3))
        finally:
            restarter.join()
        tracker = run(store.retrieve("p"))
        assert tracker.get_slot("population") == "children"
        assert [e.text for e in tracker.events if isinstance(e, UserUttered)][-3:] == [
            "question 1", "question 2", "question 3"]
        store.engine.dispose()
    finally:
        server.stop()


def test_a_kept_tracker_never_hides_a_turn_another_instance_stored(make_store: Make) -> None:
    first, second = make_store(), make_store()  # two instances on one database
    run(new_conversation(first, "shared"))
    run(add_turn(first, "shared", 1))  # first keeps this tracker for the next turn
    run(add_turn(second, "shared", 2, {"population": "children"}))
    tracker = run(first.retrieve("shared"))
    assert tracker.latest_message.text == "question 2"
    assert tracker.get_slot("population") == "children"


def test_a_turn_that_failed_before_saving_leaves_nothing_behind(make_store: Make) -> None:
    store = make_store()
    run(new_conversation(store, "failed"))
    run(add_turn(store, "failed", 1))
    tracker = run(store.retrieve("failed"))
    for e in turn(2):
        tracker.update(e)  # …and then the turn failed: never saved
    again = run(store.retrieve("failed"))
    assert again.latest_message.text == "question 1"


def test_an_event_broker_gets_every_new_event_once(domain, store_url) -> None:  # type: ignore[no-untyped-def]
    """The store publishes what each save adds, once (without reloading to diff it)."""
    from rasa.core.brokers.broker import EventBroker

    class Collecting(EventBroker):  # an in-process sink, as CollectingDispatcher is for replies
        def __init__(self) -> None:
            self.published: List[dict] = []

        def publish(self, event: dict) -> None:
            self.published.append(event)

    broker = Collecting()
    store = BoundedSQLTrackerStore(domain=domain, url=store_url, event_broker=broker)
    run(new_conversation(store, "broker"))
    run(add_turn(store, "broker", 1))
    run(add_turn(store, "broker", 2))
    assert [e["text"] for e in broker.published if e["event"] == "user"] == ["question 1", "question 2"]
    assert len(broker.published) == 3 + 4 + 4
    assert all(e["sender_id"] == "broker" for e in broker.published)
    store.engine.dispose()
