"""Test helpers over the conversation store's tables (conversation_store/tracker_store.py)."""

from __future__ import annotations

import json

import sqlalchemy as sa

from conversation_store.tracker_store import conversation_events, conversations


def age_conversation(tracker_url: str, sender: str, seconds: float) -> None:
    """Make a stored conversation look `seconds` older, as if the person went quiet: its
    window's event times, its row's last update and its recorded events."""
    engine = sa.create_engine(tracker_url, future=True)
    try:
        with engine.begin() as conn:
            state = json.loads(conn.execute(sa.select(conversations.c.state)
                                            .where(conversations.c.sender_id == sender)).scalar_one())
            for event in state["events"]:
                if event.get("timestamp"):
                    event["timestamp"] -= seconds
            conn.execute(conversations.update().where(conversations.c.sender_id == sender)
                         .values(state=json.dumps(state), updated_at=conversations.c.updated_at - seconds))
            conn.execute(conversation_events.update().where(conversation_events.c.sender_id == sender)
                         .values(timestamp=conversation_events.c.timestamp - seconds))
    finally:
        engine.dispose()
