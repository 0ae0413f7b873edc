"""Rate limits (security/rate_limit.py): the bucket maths, the client address behind a
trusted proxy, and attacks on the real running stack (REST, socket.io, and two instances
sharing a real Redis started here)."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import requests
import sqlalchemy as sa

from bench.servers import Redis
from security import rate_limit
from security.rate_limit import Limit, MemoryBuckets, RateLimiter, RedisBuckets, client_address, networks, take

QUESTION = "what are the side effects of baclofen?"
LOOPBACK = networks("127.0.0.1,::1")


# ---- the bucket maths ----

def test_a_full_bucket_admits_its_burst_then_refuses_until_a_token_is_back() -> None:
    limit = Limit(rate=2.0, burst=3.0)
    state: List[Any] = [None]
    outcomes = []
    for _ in range(4):
        decision, state = take(state, [limit], now=100.0)
        outcomes.append(decision.allowed)
    assert outcomes == [True, True, True, False]
    assert decision.retry_after == pytest.approx(0.5)  # one token at 2 a second
    decision, state = take(state, [limit], now=100.25)
    assert not decision.allowed and decision.retry_after == pytest.approx(0.25)
    decision, state = take(state, [limit], now=100.5)
    assert decision.allowed


def test_refusals_cost_nothing_so_a_flood_never_locks_a_sender_out() -> None:
    limit = Limit(rate=0.5, burst=10.0)
    state: List[Any] = [None]
    for i in range(1000):  # a flood within one second
        _, state = take(state, [limit], now=50.0 + i / 1000)
    decision, _ = take(state, [limit], now=51.0 + 2.0)  # one refill interval after it stops
    assert decision.allowed


def test_a_bucket_never_holds_more_than_its_burst() -> None:
    limit = Limit(rate=1.0, burst=5.0)
    decision, state = take([(0.0, 0.0)], [limit], now=10_000.0)
    assert decision.allowed and state[0][0] == pytest.approx(4.0)


def test_all_or_nothing_a_limited_sender_does_not_drain_its_address() -> None:
    sender, address = Limit(1.0, 2.0), Limit(1.0, 5.0)
    states: List[Any] = [None, None]
    results = []
    for _ in range(6):
        decision, states = take(states, [sender, address], now=0.0, names=["sender", "address"])
        results.append(decision.refused_by or "ok")
    assert results == ["ok", "ok", "sender", "sender", "sender", "sender"]
    assert states[1][0] == pytest.approx(3.0)  # the people behind the same NAT still have 3


def test_the_memory_store_forgets_the_least_recent_bucket_beyond_its_size() -> None:
    store = MemoryBuckets(max_buckets=100)
    for i in range(1000):
        store.take_many([f"k{i}"], [Limit(1, 1)], ["sender"])
    assert len(store._states) == 100


def admit_all(limiter: RateLimiter, calls: List[Tuple[str, str, Optional[str]]]) -> List[bool]:
    async def run() -> List[bool]:
        return [(await limiter.admit(*c)).allowed for c in calls]
    return asyncio.run(run())


def test_limiter_keys_senders_per_channel_and_exempts_only_listed_addresses() -> None:
    limiter = RateLimiter(Limit(0.01, 2), Limit(0.01, 100), exempt=LOOPBACK)
    got = admit_all(limiter, [("rest", "u", "203.0.113.1")] * 3 + [("telegram", "u", None)]
                    + [("rest", "u", "127.0.0.1")] * 5)
    assert got == [True, True, False, True] + [True] * 5


def test_settings_come_from_the_environment_with_safe_defaults() -> None:
    default = rate_limit.from_env({})
    assert (default.sender.rate, default.sender.burst) == rate_limit.DEFAULT_SENDER
    assert (default.address.rate, default.address.burst) == rate_limit.DEFAULT_ADDRESS
    assert isinstance(default.store, MemoryBuckets)
    bad = rate_limit.from_env({"BACLOFEN_RATE_SENDER_PER_SECOND": "fast", "BACLOFEN_RATE_SENDER_BURST": "-3",
                               "BACLOFEN_RATE_ADDRESS_BURST": "nan", "BACLOFEN_RATE_EXEMPT": "none"})
    assert (bad.sender.rate, bad.sender.burst, bad.address.burst) == (0.5, 10.0, 60.0)
    assert bad.exempt == []
    off = rate_limit.from_env({"BACLOFEN_RATE_SENDER_BURST": "0", "BACLOFEN_RATE_ADDRESS_PER_SECOND": "0"})
    assert admit_all(off, [("rest", "u", "203.0.113.1")] * 50) == [True] * 50


def test_messaging_channels_are_limited_per_sender_in_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Telegram, Twilio, Slack and Facebook all pass through guard_on_new_message."""
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    from channels.guard import guard_on_new_message

    monkeypatch.setenv("BACLOFEN_RATE_SENDER_BURST", "4")
    monkeypatch.setenv("BACLOFEN_RATE_SENDER_PER_SECOND", "0.01")
    reached: List[str] = []

    async def rasa(message: UserMessage) -> None:
        reached.append(message.text)
        await message.output_channel.send_response(message.sender_id, {"text": "answer"})

    guarded = guard_on_new_message(rasa, channel="telegram")

    async def run() -> List[str]:
        replies = []
        for i in range(6):
            out = CollectingOutputChannel()
            await guarded(UserMessage(f"hello {i}", out, "chat-42", input_channel="telegram"))
            replies.append(out.messages[0]["text"])
        out = CollectingOutputChannel()
        await guarded(UserMessage("hello", out, "chat-43", input_channel="telegram"))
        replies.append(out.messages[0]["text"])
        return replies

    replies = asyncio.run(run())
    assert replies == ["answer"] * 4 + [rate_limit.TOO_QUICKLY] * 2 + ["answer"]
    assert reached == ["hello 0", "hello 1", "hello 2", "hello 3", "hello"]  # refused ones never reached Rasa
    assert "911" in rate_limit.TOO_QUICKLY and "1-800-222-1222" in rate_limit.TOO_QUICKLY


# ---- the client address ----

@pytest.mark.parametrize("peer, forwarded, expected", [
    ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not a trusted proxy: its header is ignored
    ("127.0.0.1", None, "127.0.0.1"),
    ("127.0.0.1", "198.51.100.1", "198.51.100.1"),  # nginx on loopback
    ("127.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # a forged first hop is not believed
    ("127.0.0.1", "198.51.100.1, 127.0.0.1", "198.51.100.1"),  # two proxies of ours
    ("127.0.0.1", "not-an-ip, 198.51.100.1", "198.51.100.1"),
    ("127.0.0.1", "198.51.100.1, garbage", "127.0.0.1"),
    ("::1", "2001:db8::7", "2001:db8::7"),
])
def test_client_address_believes_only_trusted_proxies(peer: str, forwarded: Optional[str], expected: str) -> None:
    assert client_address(peer, forwarded, LOOPBACK) == expected


# ---- Redis: the Lua script does the same maths; an outage fails open to local buckets ----


def test_the_redis_script_agrees_with_the_maths(redis_server: Redis) -> None:
    sender, address = Limit(0.5, 3.0), Limit(2.0, 5.0)
    times = [0.0, 0.1, 0.2, 0.3, 0.4, 1.0, 2.5, 2.6, 2.7, 9.0, 9.1, 9.2, 9.3]
    keys = [f"s:{uuid.uuid4().hex}", f"a:{uuid.uuid4().hex}"]

    async def run() -> List[Tuple[bool, float]]:
        store = RedisBuckets(f"redis://127.0.0.1:{redis_server.port}/2")
        out = []
        for t in times:
            d = await store.take_many(keys, [sender, address], ["sender", "address"], now=1_000_000 + t)
            out.append((d.allowed, d.retry_after))
        await store.red.close()
        return out

    states: List[Any] = [None, None]
    expected = []
    for t in times:
        d, states = take(states, [sender, address], 1_000_000 + t)
        expected.append((d.allowed, d.retry_after))
    got = asyncio.run(run())
    assert [g[0] for g in got] == [e[0] for e in expected]
    assert [g[1] for g in got] == pytest.approx([e[1] for e in expected], abs=0.001)


def test_redis_down_fails_open_to_this_instances_buckets(redis_server: Redis) -> None:
    limiter = RateLimiter(Limit(0.01, 3), Limit(0.01, 100),
                          store=RedisBuckets(f"redis://127.0.0.1:{redis_server.port}/2"))
    redis_server.stop()
    t0 = time.monotonic()
    got = admit_all(limiter, [("rest", "flooder", "203.0.113.5")] * 6 + [("rest", "someone-else", "203.0.113.5")])
    assert got == [True, True, True, False, False, False, True]  # still limited, nobody silenced
    assert time.monotonic() - t0 < 2.0  # one short timeout, then the local buckets directly


# ---- attacks on the running stack ----

STACK_ENV = {
    "BACLOFEN_RATE_EXEMPT": "none",  # the tests come from loopback, exempt by default
    # Slow refills, so that exact counts do not depend on how fast this machine is.
    "BACLOFEN_RATE_SENDER_PER_SECOND": "0.02", "BACLOFEN_RATE_SENDER_BURST": "5",
    "BACLOFEN_RATE_ADDRESS_PER_SECOND": "0.01", "BACLOFEN_RATE_ADDRESS_BURST": "12",
}


def fake_address() -> str:
    """A client address of its own for each test (sent as X-Forwarded-For by the loopback
    'proxy', which is trusted by default), so the tests' buckets never mix."""
    return f"198.51.100.{uuid.uuid4().int % 250 + 1}"


def post(url: str, sender: str, message: str, address: str) -> requests.Response:
    return requests.post(url, json={"sender": sender, "message": message},
                         headers={"X-Forwarded-For": address}, timeout=60)


def flood(url: str, sender_for: Any, n: int, address: str, workers: int = 10) -> List[requests.Response]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda i: post(url, sender_for(i), f"hello {i}", address), range(n)))


def stored_user_messages(tracker_url: str, sender: str) -> int:
    engine = sa.create_engine(tracker_url, future=True)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM conversation_events "
                                        "WHERE sender_id = :s AND type_name = 'user'"), {"s": sender}).scalar_one()
    finally:
        engine.dispose()


def texts(response: requests.Response) -> str:
    return "\n".join(m.get("text", "") for m in response.json())


@pytest.mark.stack
class TestOneInstance:
    @pytest.fixture(scope="class")
    def one(self) -> Iterator[Any]:
        from tests.conftest import start_stack

        s = start_stack(extra_env=dict(STACK_ENV))
        try:
            yield s
        finally:
            s.stop()

    def test_a_sender_flood_gets_429s_while_others_even_behind_the_same_address_are_answered(self, one: Any) -> None:
        address = fake_address()
        flooder = f"flooder-{uuid.uuid4().hex}"
        results = flood(one.rest_url, lambda i: flooder, 40, address)
        codes = [r.status_code for r in results]
        assert codes.count(200) == 5 and codes.count(429) == 35, codes
        refused = next(r for r in results if r.status_code == 429)
        assert int(refused.headers["Retry-After"]) >= 1
        # Held back (idly) for a second: a client waiting for each answer is slowed to a trickle.
        assert all(r.elapsed.total_seconds() >= 0.9 for r in results if r.status_code == 429)
        body = refused.json()
        assert "too quickly" in body["error"] and "911" in body["error"] and "hello" not in refused.text
        # Refused messages were not processed: only the admitted ones reached the conversation.
        assert stored_user_messages(one.tracker_url, f"rest:{flooder}") == 5
        for other_address in (address, fake_address()):  # same NAT, and elsewhere
            r = post(one.rest_url, f"patient-{uuid.uuid4().hex}", QUESTION, other_address)
            assert r.status_code == 200 and "Source:" in texts(r), r.text

    def test_many_senders_from_one_address_hit_the_address_limit(self, one: Any) -> None:
        address = fake_address()
        results = flood(one.rest_url, lambda i: f"rotating-{uuid.uuid4().hex}", 20, address)
        codes = [r.status_code for r in results]
        assert codes.count(200) == 12 and codes.count(429) == 8, codes
        r = post(one.rest_url, f"patient-{uuid.uuid4().hex}", QUESTION, fake_address())
        assert r.status_code == 200 and "Source:" in texts(r)

    def test_a_socketio_flood_gets_the_too_quickly_reply(self, one: Any) -> None:
        import socketio

        client = socketio.Client()
        received: List[Dict[str, Any]] = []
        confirmed = threading.Event()
        issued: List[str] = []  # the server issues (and signs) the session id: security/sessions.py
        client.on("bot_uttered", lambda data: received.append(data))
        client.on("session_confirm", lambda sid: (issued.append(sid), confirmed.set()))
        client.connect(one.rasa_url, socketio_path="/socket.io", transports=["polling"],
                       headers={"X-Forwarded-For": fake_address()})
        try:
            session = uuid.uuid4().hex
            client.emit("session_request", {"session_id": session})
            assert confirmed.wait(10)
            session = issued[0]
            for i in range(20):
                client.emit("user_uttered", {"message": f"hello {i}", "session_id": session})
                time.sleep(0.05)  # engine.io refuses a polling POST of more than 16 packets
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and sum("too quickly" in (m.get("text") or "") for m in received) < 15:
                time.sleep(0.1)
        finally:
            client.disconnect()
        limited = [m for m in received if "too quickly" in (m.get("text") or "")]
        assert len(limited) == 15, received
        assert stored_user_messages(one.tracker_url, f"socketio:{session}") == 5


@pytest.mark.stack
class TestTwoInstancesShareBuckets:
    @pytest.fixture(scope="class")
    def pair(self) -> Iterator[List[Any]]:
        from tests.conftest import start_stack

        work = Path(tempfile.mkdtemp(prefix="baclofen-rate-"))
        redis = Redis(work / "redis.log")
        redis.start()
        started: List[Any] = []
        try:
            env = {**STACK_ENV, "BACLOFEN_REDIS_URL": f"redis://127.0.0.1:{redis.port}/1"}
            for _ in range(2):
                started.append(start_stack(extra_env=dict(env), with_web=False))
            yield started
        finally:
            for s in started:
                s.stop()
            redis.stop()

    def test_a_flood_spread_over_two_instances_draws_on_one_bucket(self, pair: List[Any]) -> None:
        address = fake_address()
        sender = f"flooder-{uuid.uuid4().hex}"
        urls = [pair[0].rest_url, pair[1].rest_url]
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: post(urls[i % 2], sender, f"hello {i}", address), range(30)))
        codes = [r.status_code for r in results]
        # Separate buckets would admit 5 on each instance (10); the shared one admits 5 in all.
        assert codes.count(200) == 5 and codes.count(429) == 25, codes
        r = post(urls[1], f"patient-{uuid.uuid4().hex}", QUESTION, address)
        assert r.status_code == 200 and "Source:" in texts(r)
