"""Bounded, closed-loop load generator; runs as its own process and prints one JSON line.

    python -m bench.load --url http://127.0.0.1:5005 --users 8 --duration 20 --mix ours

Each simulated user holds whole conversations from bench/questions.py with its own
sender id, and sends its next message only after the reply to the previous one
arrived (no think time: this measures the server's capacity). Load stops at the
deadline or after --max-requests, whichever comes first; only loopback URLs are allowed.

The soak (bench/run.py) holds many short conversations instead: --conversations N stops
after N conversations, --max-turns K cuts each to its first 1..K turns (chosen at random).
--acks also prints, per sender, every message sent and every one answered with HTTP 200,
so that the bench can check each answered message was stored (durable.lost_turns).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional
from urllib.parse import urlparse

import aiohttp

from bench.questions import CHAT, EMERGENCY, KB, MIXES, Turn, texts

DISCLAIMER_MARK = "ℹ️"
EMERGENCY_MARK = "🚨"
# Start of actions/compose.py APOLOGY: an action failed inside, which is an error too.
APOLOGY_START = "Sorry — I couldn't look that up"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Stats:
    latencies_ms: List[float] = field(default_factory=list)
    errors: Dict[str, int] = field(default_factory=dict)
    examples: List[str] = field(default_factory=list)
    # sender -> {"sent": [texts], "acked": [texts answered with HTTP 200]}, when recorded
    acks: Optional[Dict[str, Dict[str, List[str]]]] = None

    def sent(self, sender: str, text: str) -> None:
        if self.acks is not None:
            self.acks.setdefault(sender, {"sent": [], "acked": []})["sent"].append(text)

    def acked(self, sender: str, text: str) -> None:
        if self.acks is not None:
            self.acks[sender]["acked"].append(text)

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.examples) < 40:
            self.examples.append(f"{kind}: {detail}"[:300])


def check_reply(turn: Turn, replies: object) -> Optional[str]:
    """The kind of error in a REST reply, or None when it is what the turn expects."""
    if not isinstance(replies, list) or not replies:
        return "empty_reply"
    text = "\n".join(str(r.get("text") or "") for r in replies if isinstance(r, dict))
    if not text.strip():
        return "empty_reply"
    if text.startswith(APOLOGY_START):
        return "apology"
    if turn.expect in (KB, EMERGENCY) and not text.rstrip().splitlines()[-1].startswith(DISCLAIMER_MARK):
        return "no_disclaimer"
    if turn.expect == EMERGENCY and not text.startswith(EMERGENCY_MARK):
        return "no_emergency_first"
    return None


def check_parse(result: object) -> Optional[str]:
    if not isinstance(result, dict) or not (result.get("intent") or {}).get("name"):
        return "no_intent"
    return None


def percentile(values: List[float], p: float) -> Optional[float]:
    """Nearest-rank percentile (the smallest value with at least p % of values at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))
    return round(ordered[k], 1)


class Budget:
    """Shared stop condition: a deadline, a maximum number of requests and, optionally,
    of conversations."""

    def __init__(self, duration: float, max_requests: int, conversations: Optional[int] = None) -> None:
        self.deadline = time.monotonic() + duration
        self.left = max_requests
        self.conversations_left = conversations
        self.conversations = 0

    def take(self) -> bool:
        if self.left <= 0 or time.monotonic() >= self.deadline:
            return False
        self.left -= 1
        return True

    def take_conversation(self) -> bool:
        if self.conversations_left is not None:
            if self.conversations_left <= 0:
                return False
            self.conversations_left -= 1
        self.conversations += 1
        return True


async def post(session: aiohttp.ClientSession, url: str, payload: dict, stats: Stats) -> Optional[object]:
    """POST and time it; returns the decoded JSON, or None after recording the error."""
    t0 = time.perf_counter()
    try:
        async with session.post(url, json=payload) as resp:
            body = await resp.text()
            status = resp.status
    except asyncio.TimeoutError:
        stats.error("timeout", payload.get("message") or payload.get("text") or "")
        return None
    except aiohttp.ClientError as e:
        stats.error("connection", f"{type(e).__name__}: {e}")
        return None
    stats.latencies_ms.append((time.perf_counter() - t0) * 1000)
    if status != 200:
        stats.error(f"http_{status}", body[:200])
        return None
    try:
        return json.loads(body)
    except ValueError:
        stats.error("bad_json", body[:200])
        return None


async def rest_user(user: int, run_id: str, mix: str, url: str, session: aiohttp.ClientSession,
                    budget: Budget, stats: Stats, seed: int, once: bool, max_turns: int = 0) -> None:
    """Random conversations until the budget ends; with once, every conversation in order;
    with max_turns, each cut to its first 1..max_turns turns."""
    rng = random.Random(seed * 1000 + user)
    conversations = MIXES[mix]
    n = 0
    while not once or n < len(conversations):
        conversation = conversations[n] if once else rng.choice(conversations)
        if max_turns:
            conversation = conversation[:rng.randint(1, min(max_turns, len(conversation)))]
        if not budget.take_conversation():
            return
        n += 1
        sender = f"bench-{run_id}-u{user}-c{n}"
        for turn in conversation:
            if not budget.take():
                return
            stats.sent(sender, turn.text)
            replies = await post(session, url, {"sender": sender, "message": turn.text}, stats)
            if replies is None:
                continue
            stats.acked(sender, turn.text)
            kind = check_reply(turn, replies)
            if kind:
                stats.error(kind, f"{turn.text!r} -> {json.dumps(replies)[:200]}")


async def parse_user(user: int, mix: str, url: str, session: aiohttp.ClientSession,
                     budget: Budget, stats: Stats, seed: int) -> None:
    rng = random.Random(seed * 1000 + user)
    messages = texts(MIXES[mix])
    while budget.take():
        result = await post(session, url, {"text": rng.choice(messages)}, stats)
        if result is not None:
            kind = check_parse(result)
            if kind:
                stats.error(kind, json.dumps(result)[:200])


async def run_load(base_url: str, users: int, duration: float, mix: str, mode: str,
                   max_requests: int, timeout: float, seed: int, once: bool = False,
                   raw: bool = False, conversations: Optional[int] = None, max_turns: int = 0,
                   acks: bool = False) -> dict:
    stats = Stats(acks={} if acks else None)
    run_id = f"{int(time.time() * 1000) % 10**9}"
    path = "/model/parse" if mode == "parse" else "/webhooks/rest/webhook"
    url = base_url.rstrip("/") + path
    if mode == "parse" and os.environ.get("BACLOFEN_API_TOKEN"):  # the HTTP API needs it (bench/servers.py)
        url += "?token=" + os.environ["BACLOFEN_API_TOKEN"]
    connector = aiohttp.TCPConnector(limit=users)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        budget = Budget(duration, max_requests, conversations)
        t0 = time.monotonic()
        if mode == "parse":
            tasks = [parse_user(u, mix, url, session, budget, stats, seed) for u in range(users)]
        else:
            tasks = [rest_user(u, run_id, mix, url, session, budget, stats, seed, once, max_turns)
                     for u in range(users)]
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - t0
    completed = len(stats.latencies_ms)
    return {
        "mode": mode, "mix": mix, "users": users, "duration_s": round(elapsed, 2),
        "requests": max_requests - budget.left,
        "throughput_per_s": round(completed / elapsed, 2) if elapsed > 0 else 0.0,
        "p50_ms": percentile(stats.latencies_ms, 50),
        "p95_ms": percentile(stats.latencies_ms, 95),
        "p99_ms": percentile(stats.latencies_ms, 99),
        "max_ms": round(max(stats.latencies_ms), 1) if stats.latencies_ms else None,
        "errors": sum(stats.errors.values()),
        "error_kinds": stats.errors,
        "error_examples": stats.examples,
        "hit_request_cap": budget.left <= 0,
        **({"conversations": budget.conversations} if mode == "rest" else {}),
        **({"latencies_ms": [round(x, 2) for x in stats.latencies_ms]} if raw else {}),
        **({"acks": stats.acks} if stats.acks is not None else {}),
    }


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="base URL of the Rasa server (loopback only)")
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    ap.add_argument("--mix", choices=sorted(MIXES), default="ours")
    ap.add_argument("--mode", choices=["rest", "parse"], default="rest")
    ap.add_argument("--max-requests", type=int, default=20000, help="hard cap on requests")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds before a request counts as failed")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--once", action="store_true",
                    help="each user holds every conversation once, in order (warm-up and check)")
    ap.add_argument("--raw", action="store_true", help="also print every latency (to merge rounds)")
    ap.add_argument("--conversations", type=int, help="stop after this many conversations (the soak)")
    ap.add_argument("--max-turns", type=int, default=0,
                    help="cut each conversation to its first 1..K turns, chosen at random (0: whole)")
    ap.add_argument("--acks", action="store_true",
                    help="also print, per sender, the messages sent and those answered with HTTP 200")
    args = ap.parse_args(argv)
    if urlparse(args.url).hostname not in LOOPBACK:
        print("bench.load only drives servers on this machine (127.0.0.1/localhost)", file=sys.stderr)
        return 2
    if not (1 <= args.users <= 256 and 0 < args.duration <= 300 and 0 < args.max_requests <= 100000):
        print("users must be 1-256, duration 0-300 s, max-requests 1-100000", file=sys.stderr)
        return 2
    if (args.conversations is not None and args.conversations < 1) or args.max_turns < 0:
        print("conversations must be at least 1, max-turns at least 0", file=sys.stderr)
        return 2
    result = asyncio.run(run_load(args.url, args.users, args.duration, args.mix, args.mode,
                                  args.max_requests, args.timeout, args.seed, args.once, args.raw,
                                  args.conversations, args.max_turns, args.acks))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
