"""Personal data in the conversation store: what the person typed is redacted before it is
stored, published to the event broker or kept between turns; a deletion request removes the
whole conversation; retention deletes quiet conversations. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import List

import pytest
import sqlalchemy as sa
from rasa.core.brokers.sql import SQLEventBroker
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, UserUttered

from conversation_store.tracker_store import (
    BoundedSQLTrackerStore, conversation_events, conversations, delete_older_than)
from privacy.forget import FORGET_ACTION
from tests.conversation_store.test_tracker_store import Make, add_turn, new_conversation, run

PERSONAL = "I'm Tom Baker, call me on 07700 900123 or tom.baker@example.com"
PERSONAL_BITS = ["Tom", "Baker", "07700", "900123", "tom.baker@example.com"]


def said(text: str, intent: str = "ask_dosage") -> List[Event]:
    return [UserUttered(text, {"name": intent, "confidence": 1.0},
                        [{"entity": "drug", "value": "baclofen", "start": 0, "end": 3}],
                        metadata={"from": "tom.baker@example.com"}),
            ActionExecuted("action_answer"), BotUttered("an answer"), ActionExecuted("action_listen")]


async def say(store: BoundedSQLTrackerStore, sender: str, events: List[Event]) -> None:
    tracker = await store.retrieve(sender)
    assert tracker is not None
    for e in events:
        tracker.update(e)
    await store.save(tracker)


def everything_stored(store: BoundedSQLTrackerStore) -> str:
    with store.engine.connect() as conn:
        states = [r.state for r in conn.execute(sa.select(conversations.c.state))]
        data = [r.data for r in conn.execute(sa.select(conversation_events.c.data))]
    return "\n".join(states + data)


def test_what_is_stored_published_and_kept_is_redacted(make_store: Make, tmp_path: Path) -> None:
    broker = SQLEventBroker(dialect="sqlite", db=str(tmp_path / "events.sqlite"))
    store = make_store(event_broker=broker)
    run(new_conversation(store, "tom"))
    run(say(store, "tom", said(PERSONAL)))
    run(say(store, "tom", said("my son, 6, takes 5 mg three times a day")))

    stored = everything_stored(store)
    for bit in PERSONAL_BITS:
        assert bit not in stored
    assert "call me on <PHONE>" in stored and "<EMAIL>" in stored and "I'm <NAME>" in stored
    assert "my son, 6, takes 5 mg three times a day" in stored  # the medical meaning stays

    with broker.sessionmaker() as session:
        published = "\n".join(r.data for r in session.query(SQLEventBroker.SQLBrokerEvent).all())
    assert "<PHONE>" in published
    for bit in PERSONAL_BITS:
        assert bit not in published

    kept = run(store.retrieve("tom"))  # the tracker this process kept between turns
    texts = json.dumps([e.as_dict() for e in kept.events])
    for bit in PERSONAL_BITS:
        assert bit not in texts


def test_a_deletion_request_removes_the_whole_conversation(make_store: Make) -> None:
    store = make_store()
    run(new_conversation(store, "forgetful"))
    run(say(store, "forgetful", said(PERSONAL)))
    run(new_conversation(store, "other"))
    run(say(store, "forgetful", [UserUttered("delete my conversation", {"name": "forget_conversation"}),
                                 ActionExecuted(FORGET_ACTION), BotUttered("Done"),
                                 ActionExecuted("action_listen")]))
    assert run(store.retrieve("forgetful")) is None  # the next message starts afresh
    with store.engine.connect() as conn:
        senders = {r.sender_id for r in conn.execute(sa.select(conversation_events.c.sender_id))}
        windows = {r.sender_id for r in conn.execute(sa.select(conversations.c.sender_id))}
    assert senders == windows == {"other"}
    # Another instance (a second store on the same database) finds it gone as well.
    assert run(make_store().retrieve("forgetful")) is None


def _age(store: BoundedSQLTrackerStore, sender: str, days: float) -> None:
    seconds = days * 86400
    with store.engine.begin() as conn:
        conn.execute(conversations.update().where(conversations.c.sender_id == sender)
                     .values(updated_at=conversations.c.updated_at - seconds))
        conn.execute(conversation_events.update().where(conversation_events.c.sender_id == sender)
                     .values(timestamp=conversation_events.c.timestamp - seconds))


def _senders(store: BoundedSQLTrackerStore) -> "tuple[set, set]":
    with store.engine.connect() as conn:
        return ({r.sender_id for r in conn.execute(sa.select(conversations.c.sender_id))},
                {r.sender_id for r in conn.execute(sa.select(conversation_events.c.sender_id))})


def test_a_save_deletes_conversations_past_retention(make_store: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACLOFEN_RETENTION_DAYS", "30")
    monkeypatch.setenv("BACLOFEN_RETENTION_INTERVAL_SECONDS", "0")
    store = make_store()

    async def scenario() -> None:
        await new_conversation(store, "old")
        await add_turn(store, "old", 1)
        await new_conversation(store, "month")
        await add_turn(store, "month", 1)
        _age(store, "old", 31)
        _age(store, "month", 29)
        await add_turn(store, "month", 2)  # any save starts the deletion, in the background
        await asyncio.wait_for(store._retention_task, 10)

    run(scenario())
    assert _senders(store) == ({"month"}, {"month"})


def test_retention_runs_at_most_once_an_interval(make_store: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACLOFEN_RETENTION_INTERVAL_SECONDS", "3600")
    store = make_store()

    async def scenario() -> None:
        await new_conversation(store, "old")
        await store._retention_task  # the first save after start checks at once
        _age(store, "old", 31)
        await add_turn(store, "old", 1)  # within the hour: no second check
        await asyncio.sleep(0.2)

    run(scenario())
    assert "old" in _senders(store)[0]
    assert delete_older_than(store.engine, 30, now=time.time() + 31 * 86400) == (1, 7)


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_a_bad_retention_setting_stops_the_server_with_its_name(make_store: Make, monkeypatch, value) -> None:
    monkeypatch.setenv("BACLOFEN_RETENTION_DAYS", value)
    with pytest.raises(ValueError, match="BACLOFEN_RETENTION_DAYS"):
        make_store()
