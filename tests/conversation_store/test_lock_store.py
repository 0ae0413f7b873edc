"""One turn at a time per conversation, first come first served: in one process, and across
instances through a real Redis server (started here), including a dead holder and a Redis
restart."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import List

import pytest

from bench.servers import Redis
from conversation_store.lock_store import ConfiguredLockStore, ProcessLockStore, RedisTicketLockStore


def url(server: Redis) -> str:
    return f"redis://127.0.0.1:{server.port}/1"


async def contend(stores: List, conversation: str, n: int, spacing: float = 0.001) -> "tuple[int, List[int], List[int]]":
    """n turns of one conversation, spread over the stores, each a read-pause-write of a shared
    counter: any overlap loses an update. Returns the counter, arrival and service order."""
    counter = {"value": 0}
    arrived: List[int] = []
    served: List[int] = []

    async def one(i: int) -> None:
        arrived.append(i)
        async with stores[i % len(stores)].lock(conversation):
            served.append(i)
            seen = counter["value"]
            await asyncio.sleep(0.002)
            counter["value"] = seen + 1

    tasks = []
    for i in range(n):
        tasks.append(asyncio.ensure_future(one(i)))
        await asyncio.sleep(spacing)  # arrivals in a known order
    await asyncio.gather(*tasks)
    return counter["value"], arrived, served


def test_in_process_turns_never_overlap_and_keep_their_order() -> None:
    store = ProcessLockStore()
    t0 = time.monotonic()
    value, arrived, served = asyncio.run(contend([store], "c1", 30))
    # A waiter starts as soon as the turn before it ends; Rasa's stores poll once a second,
    # which made these 30 turns take about 30 s.
    assert time.monotonic() - t0 < 10
    assert value == 30
    assert served == arrived
    assert store._entries == {}  # nothing kept once no one holds or waits


def test_other_conversations_do_not_wait() -> None:
    store = ProcessLockStore()

    async def scenario() -> List[str]:
        order: List[str] = []

        async def slow() -> None:
            async with store.lock("busy"):
                await asyncio.sleep(0.3)
                order.append("slow")

        async def other() -> None:
            async with store.lock("free"):
                order.append("other")

        await asyncio.gather(slow(), other())
        return order

    assert asyncio.run(scenario()) == ["other", "slow"]


def test_two_instances_through_redis_never_overlap_and_keep_order(redis_server: Redis) -> None:
    async def scenario() -> "tuple[int, List[int], List[int]]":
        stores = [RedisTicketLockStore(url(redis_server)), RedisTicketLockStore(url(redis_server))]
        # Spaced so each ticket is issued (one round trip) before the next arrives.
        return await contend(stores, "shared", 40, spacing=0.01)

    t0 = time.monotonic()
    value, arrived, served = asyncio.run(scenario())
    assert time.monotonic() - t0 < 10  # Rasa's RedisLockStore: about 1 s per waiting turn
    assert value == 40
    assert served == arrived


def test_a_dead_holder_does_not_block_the_conversation(redis_server: Redis) -> None:
    async def scenario() -> float:
        dead = RedisTicketLockStore(url(redis_server), ttl_seconds=0.5)
        ticket_key, serving_key, alive = dead._keys("orphan")
        # A ticket taken by an instance that was then killed: never released, never refreshed.
        await dead._issue(keys=[ticket_key, serving_key], args=[3_600_000, dead.ttl_ms, alive])
        live = RedisTicketLockStore(url(redis_server), ttl_seconds=0.5, wait_seconds=10)
        t0 = time.monotonic()
        async with live.lock("orphan"):
            return time.monotonic() - t0

    waited = asyncio.run(scenario())
    assert waited < 5  # the dead ticket expired and was skipped, instead of waiting forever


def test_a_redis_restart_is_ridden_out(redis_server: Redis) -> None:
    async def scenario() -> int:
        store = RedisTicketLockStore(url(redis_server))
        async with store.lock("r"):
            pass
        redis_server.stop()
        restarter = threading.Timer(1.0, redis_server.start)
        restarter.start()
        try:
            done = 0
            for _ in range(3):  # the first waits out the restart, then it works as before
                async with store.lock("r"):
                    done += 1
            return done
        finally:
            restarter.join()

    assert asyncio.run(scenario()) == 3


def test_the_configured_store_follows_the_environment(monkeypatch: pytest.MonkeyPatch, redis_server: Redis) -> None:
    monkeypatch.delenv("BACLOFEN_REDIS_URL", raising=False)
    assert isinstance(ConfiguredLockStore(None), ProcessLockStore)
    monkeypatch.setenv("BACLOFEN_REDIS_URL", url(redis_server))
    assert isinstance(ConfiguredLockStore(None), RedisTicketLockStore)
