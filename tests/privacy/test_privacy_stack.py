"""Personal data in the running product, over REST: the store and the logs never hold an
email or a phone number sent in a conversation; "delete my conversation" deletes what is
stored and the next message starts afresh; retention deletes an aged conversation while the
server runs; scripts/forget.py deletes by sender and by age. One stack for the module."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, List, Set

import pytest
import sqlalchemy as sa

from conversation_store.tracker_store import conversation_events, conversations
from stack import Stack, post_json
from tests.conftest import start_stack
from tests.support.conversations import age_conversation

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]
FORGET = ROOT / "scripts" / "forget.py"
CONFIRMATION = "deleted this conversation"
EMAIL, PHONE = "sarah.jones@example.com", "07700 900123"


@pytest.fixture(scope="module")
def product() -> Iterator[Stack]:
    folder = Path(tempfile.mkdtemp(prefix="baclofen-privacy-"))
    # DEBUG: Rasa then logs every message it receives; retention checked on every save.
    stack = start_stack(with_web=False, tracker_url=f"sqlite:///{folder / 'conversations.sqlite'}",
                        extra_env={"LOG_LEVEL": "DEBUG", "BACLOFEN_RETENTION_INTERVAL_SECONDS": "0"})
    try:
        yield stack
    finally:
        stack.stop()


def db_path(stack: Stack) -> Path:
    return Path(sa.engine.make_url(stack.tracker_url).database)


def reply(stack: Stack, sender: str, message: str) -> str:
    replies = post_json(stack.rest_url, {"sender": sender, "message": message})
    return "\n".join(r.get("text", "") for r in replies if isinstance(r, dict))  # type: ignore[union-attr]


def stored_id(sender: str) -> str:
    """The id the store keeps a REST sender under (channels/guard.py namespaces every channel)."""
    return f"rest:{sender}"


def stored(stack: Stack, sender: str) -> List[str]:
    """Everything kept for REST `sender`: its window row and its events, as text."""
    sender = stored_id(sender)
    engine = sa.create_engine(stack.tracker_url, future=True)
    try:
        with engine.connect() as conn:
            rows = [r.state for r in conn.execute(sa.select(conversations.c.state)
                                                  .where(conversations.c.sender_id == sender))]
            rows += [r.data for r in conn.execute(sa.select(conversation_events.c.data)
                                                  .where(conversation_events.c.sender_id == sender))]
    finally:
        engine.dispose()
    return rows


def senders(stack: Stack) -> Set[str]:
    engine = sa.create_engine(stack.tracker_url, future=True)
    try:
        with engine.connect() as conn:
            ids = ({r.sender_id for r in conn.execute(sa.select(conversations.c.sender_id))}
                   | {r.sender_id for r in conn.execute(sa.select(conversation_events.c.sender_id))})
            return {i[len("rest:"):] if i.startswith("rest:") else i for i in ids}
    finally:
        engine.dispose()


def age(stack: Stack, sender: str, days: float) -> None:
    """Make a stored conversation look `days` older, as tests/conversation_store do."""
    age_conversation(stack.tracker_url, stored_id(sender), days * 86400)


def test_the_store_and_the_logs_never_hold_an_email_or_a_phone_number(product: Stack) -> None:
    answer = reply(product, "pii", f"Hi, I'm Sarah Jones, email me at {EMAIL} or call me on {PHONE}. "
                                   "Can I take baclofen with ibuprofen?")
    reply(product, "pii", "my son, 6, takes 5 mg three times a day, is that ok?")
    assert answer  # the person was answered from what they wrote
    rows = "\n".join(stored(product, "pii"))
    assert "call me on <PHONE>" in rows and "<EMAIL>" in rows, rows[:500]
    assert "5 mg three times a day" in rows  # the medical meaning is kept
    # The database file itself, and its write-ahead log, byte for byte.
    raw = b"".join(p.read_bytes() for p in db_path(product).parent.glob("conversations.sqlite*"))
    for secret in (EMAIL, PHONE, "Sarah Jones"):
        assert secret.encode() not in raw, secret
    for part in product.parts:
        part.settle()
        log = part.log.read_bytes()[part.log_start:].decode("utf-8", "replace")
        if part.name == "Rasa server":
            assert "<PHONE>" in log  # Rasa's DEBUG lines quote the message: redacted
        for secret in (EMAIL, PHONE, "Sarah Jones"):
            assert secret not in log, f"{secret} in the {part.name}'s log"


@pytest.mark.parametrize("request_words", ["delete my conversation", "forget what I said",
                                           "erase my chat history", "delete my data"])
def test_asking_in_chat_deletes_the_conversation_and_the_next_message_starts_afresh(
        product: Stack, request_words: str) -> None:
    sender = f"forget-{request_words.replace(' ', '-')}"
    assert "room temperature" in reply(product, sender, "how should I store baclofen tablets?")
    assert stored(product, sender)
    confirmation = reply(product, sender, request_words)
    assert CONFIRMATION in confirmation, confirmation
    assert stored(product, sender) == []  # nothing kept, not even the request
    # A fresh conversation: the follow-up has no storage question to follow.
    assert "2 to 8" not in reply(product, sender, "and the liquid?")
    assert not any("store baclofen tablets" in row for row in stored(product, sender))


@pytest.mark.parametrize("question", ["how do I stop taking it", "should I delete the reminder app",
                                      "I forgot my dose what do I do"])
def test_questions_that_sound_like_deletion_keep_the_conversation(product: Stack, question: str) -> None:
    sender = f"keep-{question[:12].replace(' ', '-')}"
    assert CONFIRMATION not in reply(product, sender, question)
    assert stored(product, sender)


def test_retention_deletes_an_aged_conversation_while_the_server_runs(product: Stack) -> None:
    reply(product, "aged", "how should I store baclofen tablets?")
    reply(product, "recent", "how should I store baclofen tablets?")
    age(product, "aged", 31)  # BACLOFEN_RETENTION_DAYS: 30 by default
    age(product, "recent", 29)
    reply(product, "someone", "hello")  # any turn's save starts the check
    deadline = time.monotonic() + 15
    while "aged" in senders(product) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "aged" not in senders(product)
    assert "recent" in senders(product)
    assert "2 to 8" not in reply(product, "aged", "and the liquid?")  # it starts afresh


def forget(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(FORGET), *args], capture_output=True, text=True, timeout=120)


def test_the_admin_command_deletes_by_sender_and_by_age(product: Stack) -> None:
    for sender in ("admin-a", "admin-b", "admin-c"):
        reply(product, sender, "how should I store baclofen tablets?")
    done = forget("--url", product.tracker_url, "--sender", stored_id("admin-a"))
    assert done.returncode == 0, done.stderr
    assert "rest:admin-a: deleted" in done.stdout
    assert stored(product, "admin-a") == [] and stored(product, "admin-b")
    age(product, "admin-b", 10)
    done = forget("--url", product.tracker_url, "--older-than", "7")
    assert done.returncode == 0, done.stderr
    assert stored(product, "admin-b") == [] and stored(product, "admin-c")
    assert "2 to 8" not in reply(product, "admin-a", "and the liquid?")  # the server starts afresh


def test_the_admin_command_explains_bad_requests(tmp_path: Path) -> None:
    nothing = forget()
    assert nothing.returncode == 2 and "--sender ID or --older-than DAYS" in nothing.stderr
    assert forget("--older-than", "soon").returncode == 2
    missing = forget("--url", f"sqlite:///{tmp_path / 'typo.sqlite'}", "--sender", "x")
    assert missing.returncode == 1 and "no conversation store" in missing.stderr
    assert not (tmp_path / "typo.sqlite").exists()
    assert "Traceback" not in missing.stderr + nothing.stderr
