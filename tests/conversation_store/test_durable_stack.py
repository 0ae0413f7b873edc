"""The real product resumes a conversation after it is stopped and started again."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import start_stack
from stack import post_json
from channels.guard import APOLOGY
from tests.support.conversations import age_conversation
from tests.support.postgres import start_postgres

pytestmark = pytest.mark.stack


def reply(url: str, sender: str, message: str) -> str:
    replies = post_json(url, {"sender": sender, "message": message})
    return "\n".join(r.get("text", "") for r in replies if isinstance(r, dict))  # type: ignore[union-attr]


def test_a_follow_up_after_a_restart_keeps_its_context(tmp_path: Path) -> None:
    tracker_url = f"sqlite:///{tmp_path / 'conversations.sqlite'}"
    stack = start_stack(with_web=False, tracker_url=tracker_url)
    try:
        assert "room temperature" in reply(stack.rest_url, "carer", "how should I store baclofen tablets?")
    finally:
        stack.stop()
    stack = start_stack(with_web=False, tracker_url=tracker_url)
    try:
        resumed = reply(stack.rest_url, "carer", "and the liquid?")
        fresh = reply(stack.rest_url, "someone-new", "and the liquid?")
    finally:
        stack.stop()
    # The follow-up asks the storage question again for the liquid: in the fridge, 2 to 8 °C.
    assert "2 to 8" in resumed, resumed
    # Without the conversation's context the same words are not about storage.
    assert "2 to 8" not in fresh, fresh


def test_a_session_expires_after_an_hour_of_silence(tmp_path: Path) -> None:
    tracker_url = f"sqlite:///{tmp_path / 'conversations.sqlite'}"
    # The test rewrites stored conversations behind the store's back: keep no tracker
    # between turns, so each turn reads what is stored.
    stack = start_stack(with_web=False, tracker_url=tracker_url, extra_env={"BACLOFEN_TRACKER_CACHE": "0"})
    try:
        reply(stack.rest_url, "quiet", "how should I store baclofen tablets?")
        reply(stack.rest_url, "recent", "how should I store baclofen tablets?")
        # REST conversations are stored as "rest:<sender>" (channels/guard.py).
        age_conversation(tracker_url, "rest:quiet", 61 * 60)  # bot/domain.yml: session_expiration_time 60
        age_conversation(tracker_url, "rest:recent", 59 * 60)
        expired = reply(stack.rest_url, "quiet", "and the liquid?")
        still_on = reply(stack.rest_url, "recent", "and the liquid?")
    finally:
        stack.stop()
    assert "2 to 8" not in expired, expired  # a new session: the storage question is forgotten
    assert "2 to 8" in still_on, still_on


def test_a_database_outage_beyond_the_retries_gets_the_apology_not_a_context_free_answer() -> None:
    """Rasa's FailSafeTrackerStore would answer from an empty conversation (and store
    nothing); the turn must end in the guard's apology instead, and the conversation resume
    with its context once the database is back."""
    server = start_postgres()
    try:
        url = server.create_database("outage")
        stack = start_stack(with_web=False, tracker_url=url,
                            extra_env={"BACLOFEN_TRACKER_RETRY_SECONDS": "2"})
        try:
            assert "room temperature" in reply(stack.rest_url, "carer", "how should I store baclofen tablets?")
            server.halt()
            during = reply(stack.rest_url, "carer", "and the liquid?")
            server.start()
            after = reply(stack.rest_url, "carer", "and the liquid?")
        finally:
            stack.stop()
    finally:
        server.stop()
    assert during.startswith(APOLOGY[:20]) and "2 to 8" not in during, during
    assert "2 to 8" in after, after
