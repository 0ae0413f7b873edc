"""Attacks on the web widget's socket.io channel, against the real running stack.

Each test is one finding of the issue-16 probe: a foreign Origin, a socket writing into
another user's chat, a client-chosen session id, REST continuing a socket.io conversation,
and the traceback every disconnect used to log.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List, Optional

import pytest
import requests
import socketio
import sqlalchemy as sa

from security.origins import allowed_origins
from security.sessions import SessionSigner
from stack import Stack

pytestmark = pytest.mark.stack

QUESTION = "what are the side effects of baclofen?"
EVIL = "https://evil.example"
QUIET_SECONDS = 6.0  # long enough for a real answer (they take 1-3 s here)


class Widget:
    """A socket.io client speaking the widget's protocol; records what it receives."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: List[Dict[str, Any]] = []
        self.confirmed: "asyncio.Queue[str]" = asyncio.Queue()
        self.client.on("bot_uttered", lambda data: self.received.append(data))
        self.client.on("session_confirm", lambda data: self.confirmed.put_nowait(data))

    async def connect(self, url: str, origin: Optional[str], transport: str = "websocket") -> None:
        headers = {"Origin": origin} if origin else {}
        await self.client.connect(url, headers=headers, transports=[transport], wait_timeout=10)

    async def session(self, session_id: Optional[str] = None) -> str:
        await self.client.emit("session_request", {"session_id": session_id})
        return await asyncio.wait_for(self.confirmed.get(), timeout=10)

    async def say(self, text: str, session_id: Optional[str]) -> None:
        await self.client.emit("user_uttered", {"message": text, "session_id": session_id})

    async def wait_for_reply(self, timeout: float = 30.0) -> List[Dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while not self.received and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)  # the rest of the turn
        return list(self.received)


@asynccontextmanager
async def widget(stack: Stack, origin: Optional[str] = "default", transport: str = "websocket") -> AsyncIterator[Widget]:
    w = Widget()
    await w.connect(stack.rasa_url, page_origin(stack) if origin == "default" else origin, transport)
    try:
        yield w
    finally:
        await w.client.disconnect()


def page_origin(stack: Stack) -> str:
    """An origin the running server allows, computed from the environment it runs with."""
    return allowed_origins(stack._env())[0]


def stored_user_texts(stack: Stack) -> Dict[str, List[str]]:
    """Each stored conversation's user messages, straight from the stack's store."""
    engine = sa.create_engine(stack.tracker_url or "", future=True)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT sender_id, data FROM conversation_events "
                                        "WHERE type_name = 'user' ORDER BY sender_id, seq")).all()
    finally:
        engine.dispose()
    out: Dict[str, List[str]] = {}
    for sender, data in rows:
        out.setdefault(sender, []).append(json.loads(data).get("text"))
    return out


# ---- Origin -----------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_foreign_origin_is_refused(stack: Stack, transport: str) -> None:
    async def attack() -> None:
        w = Widget()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await w.connect(stack.rasa_url, EVIL, transport)
        await w.client.disconnect()

    asyncio.run(attack())


@pytest.mark.parametrize("origin", ["default", None], ids=["the page's origin", "no Origin header"])
def test_the_page_and_non_browser_clients_connect(stack: Stack, origin: Optional[str]) -> None:
    async def chat() -> List[Dict[str, Any]]:
        async with widget(stack, origin) as w:
            session_id = await w.session()
            await w.say(QUESTION, session_id)
            return await w.wait_for_reply()

    replies = asyncio.run(chat())
    assert any("side effect" in (r.get("text") or "").lower() for r in replies), replies


# ---- sessions -----------------------------------------------------------------------------


def test_a_socket_that_never_joined_cannot_write_into_another_users_chat(stack: Stack) -> None:
    async def attack() -> tuple:
        async with widget(stack) as victim, widget(stack) as attacker:
            victim_id = await victim.session()
            await attacker.say(QUESTION, victim_id)
            attacker_got = await attacker.wait_for_reply(timeout=QUIET_SECONDS)
            await asyncio.sleep(2)
            return victim_id, list(victim.received), attacker_got

    victim_id, victim_got, attacker_got = asyncio.run(attack())
    assert victim_got == [], f"the attacker's turn reached the victim's chat: {victim_got}"
    assert attacker_got and "reload the page" in attacker_got[0]["text"], attacker_got
    assert f"socketio:{victim_id}" not in stored_user_texts(stack)


def test_a_confirmed_socket_cannot_name_another_session(stack: Stack) -> None:
    async def attack() -> tuple:
        async with widget(stack) as victim, widget(stack) as attacker:
            victim_id = await victim.session()
            own_id = await attacker.session()
            await attacker.say(QUESTION, victim_id)
            attacker_got = await attacker.wait_for_reply()
            await asyncio.sleep(1)
            return victim_id, own_id, list(victim.received), attacker_got

    victim_id, own_id, victim_got, attacker_got = asyncio.run(attack())
    assert victim_got == [], f"the reply went into the victim's chat: {victim_got}"
    assert attacker_got, "the attacker's own session got no answer"
    stored = stored_user_texts(stack)
    assert f"socketio:{victim_id}" not in stored
    assert stored[f"socketio:{own_id}"] == [QUESTION]


@pytest.mark.parametrize("claimed", ["0123456789abcdef0123456789abcdef", "victim-chosen-id",
                                     "0123456789abcdef0123456789abcdef-AAAAAAAAAAAAAAAAAAAAAAAA"],
                         ids=["unsigned", "arbitrary", "forged signature"])
def test_a_client_chosen_session_id_is_replaced_by_a_server_issued_one(stack: Stack, claimed: str) -> None:
    async def ask() -> str:
        async with widget(stack) as w:
            return await w.session(claimed)

    confirmed = asyncio.run(ask())
    assert confirmed != claimed
    assert SessionSigner(b"x").verified(confirmed) is None  # signed with the server's key, not ours
    assert len(confirmed) == 57 and confirmed[32] == "-", confirmed


def test_a_server_issued_session_continues_after_a_reconnect(stack: Stack) -> None:
    async def chat() -> tuple:
        async with widget(stack) as first:
            session_id = await first.session()
            await first.say(QUESTION, session_id)
            await first.wait_for_reply()
        async with widget(stack, transport="polling") as again:  # a page reload
            continued = await again.session(session_id)
            await again.say("thanks", continued)
            await again.wait_for_reply()
        return session_id, continued

    session_id, continued = asyncio.run(chat())
    assert continued == session_id
    assert stored_user_texts(stack)[f"socketio:{session_id}"] == [QUESTION, "thanks"]


def test_rest_cannot_continue_a_socketio_conversation(stack: Stack) -> None:
    async def chat() -> str:
        async with widget(stack) as w:
            session_id = await w.session()
            await w.say(QUESTION, session_id)
            await w.wait_for_reply()
            return session_id

    session_id = asyncio.run(chat())
    r = requests.post(stack.rest_url, json={"sender": session_id, "message": "what about in children?"}, timeout=60)
    assert r.status_code == 200
    stored = stored_user_texts(stack)
    assert stored[f"socketio:{session_id}"] == [QUESTION], "REST wrote into the widget's conversation"
    assert stored[f"rest:{session_id}"] == ["what about in children?"]


# ---- logs -----------------------------------------------------------------------------------


def test_a_disconnect_logs_no_traceback(stack: Stack) -> None:
    rasa = next(p for p in stack.parts if p.name == "Rasa server")

    async def visit() -> None:
        for transport in ("websocket", "polling"):
            async with widget(stack, transport=transport) as w:
                await w.session()
        await asyncio.sleep(2)

    before = len(rasa._this_run() or [])
    asyncio.run(visit())
    rasa.settle()
    new_lines = (rasa._this_run() or [])[before:]
    noise = ("Traceback", "Invalid response type", "DeprecationWarning")
    assert not [line for line in new_lines if any(n in line for n in noise)], \
        "\n".join(new_lines[-30:])
