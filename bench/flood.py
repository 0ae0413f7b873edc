"""Flood bench: does one sender's flood slow everyone else down? Prints one JSON object.

    .venv/bin/python -m bench.flood [--flood 300] [--concurrency 20] [--env KEY=VALUE ...]

Starts the real stack (scripts/stack.py, throwaway conversation store, no web page), then
one flooder sends --flood REST requests (all one sender, --concurrency at a time) while a
second user asks ordinary questions one after another (a new sender id every
MESSAGES_PER_USER messages: the other people using the bot). --rounds floods, each from a
new flooder, pool their samples. Both come "through nginx": from
loopback (the trusted proxy by default) with their own X-Forwarded-For address, as in
deploy/. Reports the second user's p50/p95 latency when quiet and during the flood, and
how the flood was answered (HTTP 200 vs 429). Target: p95 during the flood <= 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from typing import Dict, List, Optional

import aiohttp

from scripts.stack import Stack, StackError, free_port

TARGET_P95_MS = 200.0
FLOODER_ADDRESS = "203.0.113.66"
USER_ADDRESS = "198.51.100.20"
# Ordinary things a person sends: greetings, buttons, short questions (knowledge-base answers).
MESSAGES_PER_USER = 8
USER_MESSAGES = ["hello", "what are the side effects?", "what is baclofen?", "thanks", "can I drink alcohol with baclofen?",
                 "how much baclofen can I take a day?", "what if I miss a dose?", "ok"]


def percentile(values: List[float], q: float) -> Optional[float]:
    """Nearest-rank percentile; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return round(ordered[rank - 1], 1)


async def post(session: aiohttp.ClientSession, url: str, sender: str, text: str, address: str) -> int:
    async with session.post(url, json={"sender": sender, "message": text},
                            headers={"X-Forwarded-For": address}) as r:
        await r.read()
        return r.status


async def user(session: aiohttp.ClientSession, url: str, count: int, stop: Optional[asyncio.Event],
               think: float, latencies: Optional[List[float]] = None) -> Dict[str, object]:
    """Ordinary users, one after another: each message after the previous reply and a pause."""
    latencies = [] if latencies is None else latencies
    statuses: Dict[str, int] = {}
    i = 0
    while i < count or (stop is not None and not stop.is_set()):
        if i % MESSAGES_PER_USER == 0:  # the next person, from their own address
            sender = f"bench-user-{uuid.uuid4().hex[:8]}"
            address = f"{USER_ADDRESS.rsplit('.', 1)[0]}.{(i // MESSAGES_PER_USER) % 250 + 1}"
        t0 = time.perf_counter()
        status = await post(session, url, sender, USER_MESSAGES[i % len(USER_MESSAGES)], address)
        if status == 200:  # the latency of an answer; a refusal (which should not happen) is counted apart
            latencies.append((time.perf_counter() - t0) * 1000)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        i += 1
        await asyncio.sleep(think)
    return {"messages": len(latencies), "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "max_ms": round(max(latencies), 1) if latencies else None, "statuses": statuses}


async def flooder(session: aiohttp.ClientSession, url: str, n: int, concurrency: int) -> Dict[str, object]:
    sender = f"bench-flooder-{uuid.uuid4().hex[:8]}"
    statuses: Dict[str, int] = {}
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            try:
                status = str(await post(session, url, sender, f"what are the side effects {i}", FLOODER_ADDRESS))
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                status = type(e).__name__
            statuses[status] = statuses.get(status, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return {"requests": n, "concurrency": concurrency, "seconds": round(time.perf_counter() - t0, 2),
            "answered_200": statuses.get("200", 0), "limited_429": statuses.get("429", 0), "statuses": statuses}


async def measure(url: str, flood: int, concurrency: int, quiet: int, think: float,
                  rounds: int) -> Dict[str, object]:
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for text in USER_MESSAGES:  # load the lazy parts (NLU, knowledge base) first
            await post(session, url, f"bench-warm-up-{uuid.uuid4().hex[:8]}", text, "192.0.2.1")
        quiet_user = await user(session, url, quiet, None, think)
        samples: List[float] = []
        statuses: Dict[str, int] = {}
        floods = []
        for _ in range(rounds):
            stop = asyncio.Event()
            second = asyncio.ensure_future(user(session, url, 1, stop, think, samples))
            floods.append(await flooder(session, url, flood, concurrency))
            stop.set()
            for status, n in (await second)["statuses"].items():  # type: ignore[union-attr]
                statuses[status] = statuses.get(status, 0) + n
        during = {"messages": len(samples), "p50_ms": percentile(samples, 50),
                  "p95_ms": percentile(samples, 95), "max_ms": round(max(samples), 1) if samples else None, "statuses": statuses}
    flood_result = {"rounds": rounds, "per_round": floods,
                    "limited_429": sum(int(f["limited_429"]) for f in floods),  # type: ignore[call-overload]
                    "answered_200": sum(int(f["answered_200"]) for f in floods)}  # type: ignore[call-overload]
    return {"second_user_quiet": quiet_user, "second_user_during_flood": during, "flood": flood_result,
            "target_p95_ms": TARGET_P95_MS,
            # Met only if every second-user message was answered (none refused) within the p95.
            "meets_target": (during["p95_ms"] is not None and during["p95_ms"] <= TARGET_P95_MS
                             and set(during["statuses"]) == {"200"})}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flood", type=int, default=300, help="requests the flooder sends")
    ap.add_argument("--concurrency", type=int, default=20, help="flood requests in flight at once")
    ap.add_argument("--rounds", type=int, default=3, help="floods, each from a new flooder")
    ap.add_argument("--quiet", type=int, default=16, help="second-user messages before the flood")
    ap.add_argument("--think", type=float, default=0.1, help="seconds the second user waits between messages")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="extra server environment")
    ap.add_argument("--url", help="measure this REST webhook instead of starting a stack")
    args = ap.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.env)
    stack: Optional[Stack] = None
    try:
        url = args.url
        if not url:
            tmp = tempfile.mkdtemp(prefix="baclofen-flood-")
            stack = Stack(rasa_port=free_port(), actions_port=free_port(), web_port=free_port(), with_web=False,
                          tracker_url=f"sqlite:///{tmp}/conversations.sqlite", extra_env=extra)
            stack.start()
            url = stack.rest_url
        result = asyncio.run(measure(url, args.flood, args.concurrency, args.quiet, args.think, args.rounds))
    except StackError as e:
        print(json.dumps({"error": str(e)}), file=sys.stderr)
        return 1
    finally:
        if stack is not None:
            stack.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
