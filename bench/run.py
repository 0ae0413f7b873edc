"""Performance benchmark: our real stack against the stock `rasa init` assistant.

    .venv/bin/python -m bench.run            (what `make bench` runs)

1. trains our bot from scratch (`rasa train --force`, empty cache) and times it;
   creates and trains a fresh `rasa init` assistant;
2. in-memory: starts our real stack (action server + knowledge base + Rasa server,
   scripts/stack.py, free ports; launch → healthy is the start-up time) with
   bench/endpoints-memory.yml (Rasa's in-memory tracker store, our lock store), checks
   every benchmark conversation once and reads idle memory; then starts the stock
   assistant the same way (Rasa's defaults: in memory too; as created, responses only);
3. drives them from a separate process (bench/load.py): the gate level (8 users) in
   alternating rounds, ours and stock, so both sides of the ratio see the same machine;
   then 32 users for each;
4. durable: the production set-up, beside stock Rasa in the same one: a throwaway
   PostgreSQL tracker store and a Redis lock store for both (bot/endpoints.yml for ours,
   Rasa's `sql` and `redis` stores for stock), stock as the issue measured it: its replies
   made custom actions served by `rasa run actions`; 8 and 32 users in alternating rounds;
   then, on ours, one 500-turn conversation (cost of turn 500 ÷ turn 5) and a soak of
   many short conversations (memory growth); every message answered must be in PostgreSQL;
5. prints ONE JSON line (also written to bench/results/<name>.json) and exits 1
   when a gate is missed.

Options let the same run measure a variant (another config, endpoints file,
environment, `rasa run` option) and its held-out NLU macro-F1, or skip sections; see
bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from bench import procs
from bench.load import check_reply, percentile
from bench.questions import CHAT, KB, Turn
from bench.servers import (STOCK_VARIANT_DURABLE, STOCK_VARIANT_DURABLE_RESPONSES, STOCK_VARIANT_MEMORY,
                           BenchStack, Durable, Redis, StockStack, database_name, init_stock, nlu_macro_f1,
                           train_ours, train_stock_with_actions)
from scripts.stack import ROOT, Stack, StackError, free_port, post_json

LEVELS = (8, 32)
GATE_USERS = 8
DURABLE_LEVELS = (8, 32)
DURABLE_P95_USERS = 32
RESULTS = ROOT / "bench" / "results"
LOG_DIR = ROOT / "build" / "logs" / "bench"
MEMORY_ENDPOINTS = ROOT / "bench" / "endpoints-memory.yml"
SERVERS = ("action server", "Rasa server")  # our own processes (memory, per-turn CPU)

# Targets from the product issues (2-core, 24 GB machine).
MIN_RATIO_VS_STOCK = 3.0  # in-memory, 8 users
MAX_P95_MS = 100.0  # in-memory, 8 users
MAX_STARTUP_S = 20.0
MAX_TRAIN_S = 90.0
MAX_IDLE_RSS_MB = 1.5 * 1024  # 1.5 GiB for all our processes together
MAX_RANKER_CPU_MS = 2.0
MIN_DURABLE_RATIO = 5.0  # at 8 and at 32 users
MAX_DURABLE_P95_MS = 150.0  # at 32 users
MAX_LOST_TURNS = 0
MAX_TURN_COST_RATIO = 1.5  # turn 500 ÷ turn 5
MAX_SOAK_MB_PER_10K = 10.0
MAX_FLOOD_P95_MS = 200.0  # issue 16: a second user during one sender's 300-request flood

# The long conversation: turns (1-based, inclusive) compared, "around turn 5" and "around
# turn 500". Its messages repeat with a period of len(LONG_TEXTS) = the window length, so
# both windows hold exactly the same messages and differ only in how long the conversation is.
LONG_TURNS = 500
LONG_WINDOW = 10
LONG_TEXTS = (
    Turn("what are the side effects of baclofen?", KB),
    Turn("what is baclofen used for", KB),
    Turn("what is the maximum dose of baclofen per day", KB),
    Turn("can i take baclofen with oxycodone", KB),
    Turn("how should i store baclofen tablets", KB),
    Turn("thanks!", CHAT),
    Turn("how does the baclofen pump work?", KB),
    Turn("can i drive while taking baclofen", KB),
    Turn("is baclofen safe during pregnancy", KB),
    Turn("what forms does baclofen come in", KB),
)
SOAK_WARMUP = 1000  # new conversations before the first memory reading
SOAK_CONVERSATIONS = 10_000
SOAK_CHUNK = 2000  # conversations per load run (one memory reading after each)
SOAK_USERS = 8
SOAK_MAX_TURNS = 2  # each soak conversation: the first 1-2 turns of a benchmark conversation
SOAK_SECONDS = 180.0  # a busy machine stops the soak early (after >= SOAK_MIN_CHUNKS readings)
SOAK_MIN_CHUNKS = 2


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


class Acks:
    """Per sender, every message the load generator sent and every one answered with HTTP
    200, over all load runs against one stack: what must be in its tracker store."""

    def __init__(self) -> None:
        self.senders: Dict[str, Dict[str, Counter]] = {}

    def add(self, acks: Dict[str, Dict[str, List[str]]]) -> None:
        for sender, record in acks.items():
            mine = self.senders.setdefault(sender, {"sent": Counter(), "acked": Counter()})
            mine["sent"].update(record["sent"])
            mine["acked"].update(record["acked"])


def drive(url: str, users: int, duration: float, mix: str, mode: str = "rest",
          once: bool = False, seed: int = 1, raw: bool = False, acks: Optional[Acks] = None,
          conversations: Optional[int] = None, max_turns: int = 0) -> dict:
    """Run bench.load in its own process (so it does not share our interpreter) and parse its JSON.
    With acks, the messages sent and answered are added to it (and left out of the result)."""
    cap = min(100_000, max(100, int(3000 * duration)))  # safety bound (load.py allows ≤ 100k), far above ~600/s
    cmd = [sys.executable, "-m", "bench.load", "--url", url, "--users", str(users),
           "--duration", str(duration), "--mix", mix, "--mode", mode, "--max-requests", str(cap),
           "--seed", str(seed)]
    if once:
        cmd.append("--once")
    if raw:
        cmd.append("--raw")
    if acks is not None and mode == "rest":
        cmd.append("--acks")
    if conversations is not None:
        cmd += ["--conversations", str(conversations)]
    if max_turns:
        cmd += ["--max-turns", str(max_turns)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=duration + 300)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the load generator failed (code {done.returncode}): {done.stderr[-2000:]}")
    result = json.loads(lines[-1])
    if acks is not None and "acks" in result:
        acks.add(result.pop("acks"))
    return result


def roots(stack: Stack) -> Dict[str, int]:
    """The processes whose memory and CPU count: every part, plus redis when the variant uses it."""
    found = {part.name: part.proc.pid for part in stack.parts if part.proc is not None}
    redis = getattr(stack, "redis", None)
    if redis is not None and redis.proc is not None:
        found["redis"] = redis.proc.pid
    found.update(getattr(stack, "servers", {}))  # the durable set-up's PostgreSQL and Redis
    return found


def mb(values: Dict[str, int]) -> Dict[str, float]:
    out = {name: procs.to_mb(v) for name, v in values.items()}
    out["total"] = procs.to_mb(sum(values.values()))
    return out


def loaded(stack: Stack, users: int, duration: float, mix: str, mode: str = "rest",
           seed: int = 1, raw: bool = False, acks: Optional[Acks] = None) -> dict:
    """One load level with its peak memory and the servers' CPU time per handled request."""
    pids = roots(stack)
    loadavg = round(os.getloadavg()[0], 2)
    cpu_before = {name: procs.tree_cpu(pid) for name, pid in pids.items()}
    with procs.PeakSampler(pids) as sampler:
        level = drive(stack.rasa_url, users, duration, mix, mode=mode, seed=seed, raw=raw, acks=acks)
    handled = max(1, level["requests"])
    level["cpu_s"] = {name: procs.tree_cpu(pid) - cpu_before[name] for name, pid in pids.items()}
    level["cpu_ms_per_request"] = {name: round(1000 * cpu / handled, 2) for name, cpu in level["cpu_s"].items()}
    level["peak_rss_mb"] = mb(sampler.peaks)
    level["loadavg_1m_before"] = loadavg  # other work on the machine skews wall-clock figures
    return level


def merge_rounds(rounds: List[dict]) -> dict:
    """One level from several rounds: totals over the rounds, percentiles over every latency."""
    latencies = [x for r in rounds for x in r.pop("latencies_ms", [])]
    elapsed = sum(r["duration_s"] for r in rounds)
    requests = sum(r["requests"] for r in rounds)
    kinds: Dict[str, int] = {}
    for r in rounds:
        for kind, n in r["error_kinds"].items():
            kinds[kind] = kinds.get(kind, 0) + n
    cpu = {name: sum(r["cpu_s"][name] for r in rounds) for name in rounds[0]["cpu_s"]}
    peaks = {name: max(r["peak_rss_mb"][name] for r in rounds) for name in rounds[0]["peak_rss_mb"]}
    first = rounds[0]
    return {
        "mode": first["mode"], "mix": first["mix"], "users": first["users"], "rounds": len(rounds),
        "duration_s": round(elapsed, 2), "requests": requests,
        "throughput_per_s": round(len(latencies) / elapsed, 2) if elapsed > 0 else 0.0,
        "throughput_per_round": [r["throughput_per_s"] for r in rounds],
        "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99), "max_ms": round(max(latencies), 1) if latencies else None,
        "errors": sum(r["errors"] for r in rounds), "error_kinds": kinds,
        "error_examples": [e for r in rounds for e in r["error_examples"]][:40],
        "hit_request_cap": any(r["hit_request_cap"] for r in rounds),
        "cpu_ms_per_request": {name: round(1000 * v / max(1, requests), 2) for name, v in cpu.items()},
        "peak_rss_mb": peaks,
        "loadavg_1m_before": first["loadavg_1m_before"],
    }


def interleaved(runs: List[Tuple[str, Stack, str, str]], users: int, duration: float,
                rounds: int, acks: Optional[Dict[str, Acks]] = None) -> Dict[str, dict]:
    """Alternate short rounds of each (key, stack, mix, mode) and merge each one's rounds.

    The gates are ratios (ours / stock). Measured one after the other, minutes apart,
    they moved by ±30 % with the speed this shared machine gives us; in alternating
    rounds both sides of each ratio see the same machine. acks: key -> where that run's
    sent and answered messages go (the durable lost-turn count).
    """
    parts: Dict[str, List[dict]] = {key: [] for key, *_ in runs}
    for i in range(rounds):
        for key, stack, mix, mode in runs:
            parts[key].append(loaded(stack, users, duration / rounds, mix, mode, seed=i + 1, raw=True,
                                     acks=(acks or {}).get(key)))
    return {key: merge_rounds(levels) for key, levels in parts.items()}


def start_checked(stack: Stack, mix: str, parse_warmup: bool = False, acks: Optional[Acks] = None,
                  label: str = "") -> dict:
    """Start (timed), check every conversation once, warm up, read idle memory."""
    t0 = time.monotonic()
    stack.start()
    startup = time.monotonic() - t0
    if mix == "ours":
        stack.probe()  # the same end-to-end check as `make run`: fails fast with the reason
    log(f"{label or mix}: healthy after {startup:.1f} s; checking every conversation once")
    check = drive(stack.rasa_url, 1, 120, mix, once=True, acks=acks)
    drive(stack.rasa_url, GATE_USERS, 3, mix, acks=acks)  # warm-up under concurrency, not recorded
    if parse_warmup:
        drive(stack.rasa_url, GATE_USERS, 2, mix, mode="parse")
    time.sleep(3.0)  # let the servers settle before reading idle memory
    return {"startup_s": round(startup, 2), "check": check,
            "idle_rss_mb": mb(procs.rss_now(roots(stack))),
            "idle_pss_mb": mb(procs.pss_now(roots(stack))),
            "levels": {}, "peak_rss_mb": {}}


def record(result: dict, level: dict, label: str = "") -> None:
    """File a measured level (a /model/parse level as result["nlu_parse"]) and log it."""
    rounds = level.get("rounds", 1)
    label = label or level["mix"]
    if level["mode"] == "parse":
        result["nlu_parse"] = level
        log(f"{label}: /model/parse at {level['users']}: {level['throughput_per_s']} req/s ({rounds} rounds)")
    else:
        result["levels"][str(level["users"])] = level
        log(f"{label}: {level['users']} users: {level['throughput_per_s']} msg/s, p95 {level['p95_ms']} ms, "
            f"{level['errors']} errors, {level['cpu_ms_per_request']} CPU ms/request ({rounds} rounds)")
    peaks = result["peak_rss_mb"]
    peaks.update({k: max(v, peaks.get(k, 0.0)) for k, v in level["peak_rss_mb"].items()})


def shown(path: Path) -> str:
    """A path as the JSON shows it: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def prepare_ours(args: argparse.Namespace, work: Path) -> Tuple[BenchStack, dict]:
    """Our stack, trained (timed) unless --model names one."""
    extra_env = dict(kv.split("=", 1) for kv in args.env)
    endpoints = args.endpoints or MEMORY_ENDPOINTS
    # data_dir under the run's temp folder: the bench never writes the product's var/.
    stack = BenchStack(rasa_port=free_port(), actions_port=free_port(), with_web=False,
                       enable_api=True, log_dir=LOG_DIR, extra_env=extra_env, data_dir=work / "data",
                       endpoints=endpoints, rasa_args=list(args.rasa_arg))
    result: dict = {"config": str(args.config), "endpoints": shown(endpoints),
                    "env": dict(extra_env), "redis": args.redis, "rasa_args": list(args.rasa_arg)}
    if args.model:
        stack.model = args.model
        result["train_s"] = None
    else:
        log(f"training our bot from scratch with {args.config}")
        seconds, stack.model = train_ours(args.config, work / "ours", stack.env(), LOG_DIR / "train.log")
        result["train_s"] = round(seconds, 1)
        log(f"trained in {seconds:.1f} s")
        if args.save_model:
            shutil.copy(stack.model, args.save_model)
    if args.accuracy:
        result["heldout_macro_f1"] = nlu_macro_f1(stack.model, ROOT / "tests" / "nlu" / "heldout.yml",
                                                  work / "nlu-test", stack.env(), LOG_DIR / "nlu-test.log")
        log(f"held-out intent macro-F1 {result['heldout_macro_f1']}")
    return stack, result


def prepare_stock(work: Path, with_actions: bool = True
                  ) -> Tuple[StockStack, dict, Optional[StockStack], Optional[dict]]:
    """A fresh `rasa init` assistant, created and trained (timed): as created for the
    in-memory comparison; and (with_actions, for the durable one) a copy whose replies are
    custom actions (bench/servers.py stock_with_actions), trained once more."""
    project = work / "stock"
    log("creating and training the stock assistant (rasa init --no-prompt)")
    env = BenchStack().env()
    seconds, model = init_stock(project, env, LOG_DIR / "stock-init.log")
    stack = StockStack(rasa_port=free_port(), model=model, log_dir=LOG_DIR, with_web=False,
                       credentials=project / "credentials.yml", data_dir=work / "data")
    result = {"init_and_train_s": round(seconds, 1), "variant": STOCK_VARIANT_MEMORY}
    if not with_actions:
        return stack, result, None, None
    actions_project = work / "stock-actions"
    log("training the stock assistant with custom actions (its replies as custom actions)")
    seconds, model = train_stock_with_actions(project, actions_project, env, LOG_DIR / "stock-actions-train.log")
    actions_stack = StockStack(rasa_port=free_port(), actions_port=free_port(), model=model, log_dir=LOG_DIR,
                               with_web=False, credentials=actions_project / "credentials.yml",
                               data_dir=work / "data", project=actions_project)
    return stack, result, actions_stack, {"train_s": round(seconds, 1), "variant": STOCK_VARIANT_DURABLE,
                                          "actions": (actions_project / "actions" / "actions.py").read_text()}


def run_memory(args: argparse.Namespace, ours_stack: BenchStack, ours: dict,
               stock_stack: Optional[StockStack], stock: Optional[dict]) -> None:
    """In memory: both assistants up at once; the gate level in alternating rounds, then 32 users."""
    try:
        if args.redis:
            ours_stack.redis = Redis(LOG_DIR / "redis.log")
            ours_stack.redis.start()
            ours_stack.extra_env["BENCH_REDIS_PORT"] = str(ours_stack.redis.port)
        # its idle memory is read before stock starts
        ours.update(start_checked(ours_stack, "ours", parse_warmup=args.nlu_ceiling))
        if stock_stack is not None and stock is not None:
            stock.update(start_checked(stock_stack, "stock"))
        runs: List[Tuple[str, Stack, str, str]] = [("ours", ours_stack, "ours", "rest")]
        if stock_stack is not None:
            runs.append(("stock", stock_stack, "stock", "rest"))
        if args.nlu_ceiling:
            runs.append(("parse", ours_stack, "ours", "parse"))
        log(f"{GATE_USERS} users: {args.rounds} alternating rounds of {args.duration / args.rounds:.1f} s "
            f"each for {', '.join(key for key, *_ in runs)}")
        gate_levels = interleaved(runs, GATE_USERS, args.duration, args.rounds)
        record(ours, gate_levels["ours"])
        if stock is not None:
            record(stock, gate_levels["stock"])
        if args.nlu_ceiling:
            record(ours, gate_levels["parse"])
        for users in (u for u in LEVELS if u != GATE_USERS):
            record(ours, loaded(ours_stack, users, args.duration, "ours"))
            if stock_stack is not None and stock is not None:
                record(stock, loaded(stock_stack, users, args.duration, "stock"))
    finally:
        for stack in (stock_stack, ours_stack):
            if stack is not None:
                stack.stop()
        if ours_stack.redis is not None:
            ours_stack.redis.stop()


# The store keeps a REST sender as "rest:<sender>" (channels/guard.py).
REST_NS = "rest:"


def stored_user_texts(url: str, prefix: str = "bench-") -> Dict[str, Counter]:
    """Per sender (load-generator senders only), the user messages in our tracker store."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, future=True)
    text = ("data::json->>'text'" if engine.dialect.name == "postgresql" else "json_extract(data, '$.text')")
    found: Dict[str, Counter] = {}
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT sender_id, {text} FROM conversation_events "
                                        "WHERE type_name = 'user' AND sender_id LIKE :p"), {"p": REST_NS + prefix + "%"})
            for sender, message in rows:
                found.setdefault(sender[len(REST_NS):], Counter())[message] += 1
    finally:
        engine.dispose()
    return found


def turn_accounting(acks: Acks, stored: Dict[str, Counter]) -> dict:
    """Answered messages that are not in the store (lost) and stored ones beyond what was
    sent (duplicates), counted per sender and message text, so one of each cannot cancel out."""
    lost = duplicates = acked = sent = kept = 0
    senders_lost = 0
    for sender, record in acks.senders.items():
        have = stored.get(sender, Counter())
        missing = sum(max(0, n - have[t]) for t, n in record["acked"].items())
        lost += missing
        senders_lost += missing > 0
        duplicates += sum(max(0, n - record["sent"][t]) for t, n in have.items())
        acked += sum(record["acked"].values())
        sent += sum(record["sent"].values())
        kept += sum(have.values())
    return {"senders": len(acks.senders), "sent_turns": sent, "acknowledged_turns": acked,
            "stored_turns": kept, "lost_turns": lost, "senders_with_lost_turns": senders_lost,
            "duplicate_turns": duplicates}


def window_ratio(values: List[float], early: Tuple[int, int], late: Tuple[int, int],
                 how: str) -> Optional[float]:
    """late ÷ early over 1-based, inclusive turn windows, by "median" or "sum"."""
    a, b = values[early[0] - 1:early[1]], values[late[0] - 1:late[1]]
    if len(a) != early[1] - early[0] + 1 or len(b) != late[1] - late[0] + 1:
        return None
    f = statistics.median if how == "median" else sum
    base = f(a)
    return round(f(b) / base, 3) if base > 0 else None


def long_summary(latencies_ms: List[float], cpu_ms: List[float], window: int = LONG_WINDOW) -> dict:
    """The cost of a turn late in one long conversation relative to one early in it: median
    latency and summed server CPU over the same-length windows around turn 5 (turns 3 …
    2 + window) and at the end; turn_cost_ratio is the larger of the two ratios."""
    turns = len(latencies_ms)
    early = (3, 2 + window)
    late = (turns - window + 1, turns)
    latency = window_ratio(latencies_ms, early, late, "median")
    cpu = window_ratio(cpu_ms, early, late, "sum")
    known = [r for r in (latency, cpu) if r is not None]
    return {
        "turns": turns, "early_turns": list(early), "late_turns": list(late),
        "latency_ratio": latency, "cpu_ratio": cpu,
        "turn_cost_ratio": max(known) if known else None,
        "early_p50_ms": round(statistics.median(latencies_ms[early[0] - 1:early[1]]), 2) if turns >= early[1] else None,
        "late_p50_ms": round(statistics.median(latencies_ms[late[0] - 1:]), 2) if turns >= window else None,
        "early_cpu_ms_per_turn": round(sum(cpu_ms[early[0] - 1:early[1]]) / window, 2) if turns >= early[1] else None,
        "late_cpu_ms_per_turn": round(sum(cpu_ms[late[0] - 1:]) / window, 2) if turns >= window else None,
        # a coarser look at the whole conversation: median latency per 50 turns
        "p50_ms_per_50_turns": [round(statistics.median(latencies_ms[i:i + 50]), 1)
                                for i in range(0, turns, 50)],
        "cpu_ms_per_turn_per_50_turns": [round(sum(cpu_ms[i:i + 50]) / len(cpu_ms[i:i + 50]), 2)
                                         for i in range(0, turns, 50)],
    }


class TurnTimer:
    """Sends one sender's messages one at a time and times each: latency, and the CPU our
    two servers spent on it (nanosecond schedstat of their threads, read before and after)."""

    def __init__(self, stack: Stack, acks: Acks) -> None:
        self.stack = stack
        self.acks = acks
        self.pids = [pid for name, root in roots(stack).items() if name in SERVERS
                     for pid in procs.descendants(root)]
        self.errors: Counter = Counter()
        self.examples: List[str] = []

    def cpu_ns(self) -> int:
        return sum(procs.task_cpu_ns(pid) for pid in self.pids)

    def turns(self, sender: str, count: int, after_turn: Optional[Callable[[int], None]] = None) -> Tuple[List[float], List[float]]:
        mine = self.acks.senders.setdefault(sender, {"sent": Counter(), "acked": Counter()})
        latencies: List[float] = []
        cpu_ms: List[float] = []
        for i in range(count):
            turn = LONG_TEXTS[i % len(LONG_TEXTS)]
            before = self.cpu_ns()
            t0 = time.perf_counter()
            mine["sent"][turn.text] += 1
            try:
                replies: object = post_json(self.stack.rest_url, {"sender": sender, "message": turn.text}, timeout=10)
                mine["acked"][turn.text] += 1
                kind = check_reply(turn, replies)
            except (OSError, ValueError) as e:
                kind, replies = "http_error", str(e)
            latencies.append((time.perf_counter() - t0) * 1000)
            cpu_ms.append((self.cpu_ns() - before) / 1e6)
            if kind:
                self.errors[kind] += 1
                if len(self.examples) < 10:
                    self.examples.append(f"{sender} turn {i + 1} {kind}: {turn.text!r} -> {json.dumps(replies)[:200]}")
            if after_turn is not None:
                after_turn(i + 1)
        return latencies, cpu_ms


def long_conversation(stack: Stack, turns: int, acks: Acks, tracker_url: str) -> dict:
    """One sender, `turns` messages in a row (one at a time), each timed (TurnTimer); then,
    as a control for the machine's speed having changed meanwhile, the early window again
    in a new conversation."""
    import sqlalchemy as sa

    stamp = int(time.time() * 1000) % 10**9
    sender = f"bench-long-{stamp}"
    engine = sa.create_engine(tracker_url, future=True)
    sizes: Dict[str, Optional[int]] = {}

    def window_bytes(turn: int) -> None:
        """The stored window (what each turn loads, and the action server is sent) at turn 5 and the last."""
        if turn in (5, turns):
            with engine.connect() as conn:
                row = conn.execute(sa.text("SELECT length(state) FROM conversations WHERE sender_id = :s"),
                                   {"s": REST_NS + sender}).first()
            sizes[str(turn)] = int(row[0]) if row else None

    timer = TurnTimer(stack, acks)
    try:
        latencies, cpu_ms = timer.turns(sender, turns, window_bytes)
        fresh_latencies, fresh_cpu = timer.turns(f"bench-long-{stamp}-fresh", 2 + LONG_WINDOW)
    finally:
        engine.dispose()
    out = long_summary(latencies, cpu_ms)
    fresh = slice(2, 2 + LONG_WINDOW)
    out.update({
        "sender": sender, "errors": sum(timer.errors.values()), "error_kinds": dict(timer.errors),
        "error_examples": timer.examples, "stored_window_bytes": sizes, "cpu_counts": "+".join(SERVERS),
        # Information: the late window against the same turns of a conversation begun after it.
        "fresh_p50_ms": round(statistics.median(fresh_latencies[fresh]), 2),
        "fresh_cpu_ms_per_turn": round(sum(fresh_cpu[fresh]) / LONG_WINDOW, 2),
        "latency_ratio_vs_fresh": round(out["late_p50_ms"] / statistics.median(fresh_latencies[fresh]), 3),
        "cpu_ratio_vs_fresh": round(out["late_cpu_ms_per_turn"] * LONG_WINDOW / sum(fresh_cpu[fresh]), 3),
    })
    return out


def soak_summary(samples: List[Tuple[int, float]]) -> dict:
    """Memory growth per 10k conversations from (conversations since the warm-up, RSS MB)
    readings: the last reading minus the first, scaled; the least-squares slope beside it."""
    done = samples[-1][0] - samples[0][0]
    growth = samples[-1][1] - samples[0][1]
    slope = None
    if len(samples) >= 3:
        xs, ys = [x for x, _ in samples], [y for _, y in samples]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        den = sum((x - mx) ** 2 for x in xs)
        slope = round(10_000 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den, 2) if den else None
    return {
        "conversations": done,
        "rss_mb_after_warmup": samples[0][1], "rss_mb_at_end": samples[-1][1],
        "rss_growth_mb": round(growth, 1),
        "rss_growth_mb_per_10k_conversations": round(10_000 * growth / done, 2) if done > 0 else None,
        "rss_slope_mb_per_10k_conversations": slope,
        "samples": [{"conversations": x, "rss_mb": y} for x, y in samples],
    }


def soak(stack: Stack, conversations: int, acks: Acks, seconds: float = SOAK_SECONDS) -> dict:
    """RSS of our two servers after SOAK_WARMUP new conversations, then after every
    SOAK_CHUNK more, up to `conversations`; each conversation a new sender, 1-2 messages.
    On a slow (busy) machine it stops at the first reading after `seconds` of soaking,
    but not before SOAK_MIN_CHUNKS readings; the growth is scaled to 10k conversations."""
    pids = {name: pid for name, pid in roots(stack).items() if name in SERVERS}

    def rss_mb() -> float:
        time.sleep(2.0)  # let in-flight work finish before reading
        return procs.to_mb(sum(procs.rss_now(pids).values()))

    log(f"soak: warming up with {SOAK_WARMUP} new conversations")
    warm = drive(stack.rasa_url, SOAK_USERS, 300, "ours", acks=acks, conversations=SOAK_WARMUP,
                 max_turns=SOAK_MAX_TURNS, seed=101)
    samples = [(0, rss_mb())]
    errors, kinds, requests, elapsed = warm["errors"], Counter(warm["error_kinds"]), 0, 0.0
    examples = list(warm["error_examples"][:5])
    done, chunk = 0, 0
    started = time.monotonic()
    while done < conversations and (chunk < SOAK_MIN_CHUNKS or time.monotonic() - started < seconds):
        chunk += 1
        n = min(SOAK_CHUNK, conversations - done)
        level = drive(stack.rasa_url, SOAK_USERS, 300, "ours", acks=acks, conversations=n,
                      max_turns=SOAK_MAX_TURNS, seed=200 + chunk)
        if level["conversations"] == 0:
            raise RuntimeError(f"the soak held no conversation: {level['error_examples'][:3]}")
        done += level["conversations"]
        errors += level["errors"]
        kinds.update(level["error_kinds"])
        examples.extend(level["error_examples"][:max(0, 10 - len(examples))])
        requests += level["requests"]
        elapsed += level["duration_s"]
        samples.append((done, rss_mb()))
        log(f"soak: {done} conversations, {samples[-1][1]} MB ({level['throughput_per_s']} msg/s)")
    out = soak_summary(samples)
    out.update({"warmup_conversations": SOAK_WARMUP, "users": SOAK_USERS, "requests": requests,
                "planned_conversations": conversations, "time_budget_s": seconds,
                "seconds": round(time.monotonic() - started, 1),
                "throughput_per_s": round(requests / elapsed, 2) if elapsed else None,
                "errors": errors, "error_kinds": dict(kinds), "error_examples": examples,
                "rss_counts": "+".join(SERVERS)})
    return out


def run_durable(args: argparse.Namespace, work: Path, model: Path,
                stock_stack: Optional[StockStack], stock_prepared: Optional[dict] = None) -> dict:
    """The production set-up: ours (PostgreSQL tracker, Redis lock) beside stock Rasa in
    the same one (stock_stack: the `rasa init` assistant with custom actions and its action
    server; stock_prepared: how it was made), at 8 and 32 users in alternating rounds; then, on ours, the long
    conversation and the soak; finally every answered message is looked up in PostgreSQL."""
    backends = Durable(LOG_DIR)
    ours_stack: Optional[BenchStack] = None
    stock: Optional[dict] = None
    ours: dict = {"levels": {}, "peak_rss_mb": {}}
    acks = Acks()
    out: dict = {"tracker_store": "PostgreSQL (throwaway server, fsync off)", "lock_store": "Redis"}
    log("durable: starting PostgreSQL and Redis")
    backends.start()
    try:
        assert backends.postgres is not None
        ours_url = backends.postgres.create_database("bench_ours")
        extra_env = dict(kv.split("=", 1) for kv in args.env)
        extra_env.update(backends.ours_env(ours_url))
        ours_stack = BenchStack(rasa_port=free_port(), actions_port=free_port(), with_web=False,
                                enable_api=True, log_dir=LOG_DIR, extra_env=extra_env, tracker_url=ours_url,
                                data_dir=work / "data", rasa_args=list(args.rasa_arg), model=model)
        ours_stack.servers = backends.pids()
        ours.update(start_checked(ours_stack, "ours", acks=acks, label="durable ours"))
        ours["endpoints"] = "bot/endpoints.yml"
        if stock_stack is not None:
            stock_db = database_name(backends.postgres.create_database("bench_stock"))
            stock_stack.rasa_port = free_port()
            if stock_stack.project is not None:
                stock_stack.actions_port = free_port()
            stock_stack.endpoints = backends.stock_endpoints(
                work / "stock-endpoints-durable.yml", stock_db,
                stock_stack.actions_url if stock_stack.project is not None else None)
            stock_stack.servers = backends.pids()
            stock = {**(stock_prepared or {}),
                     **start_checked(stock_stack, "stock", label="durable stock")}
            stock["endpoints"] = stock_stack.endpoints.read_text()
        runs: List[Tuple[str, Stack, str, str]] = [("ours", ours_stack, "ours", "rest")]
        if stock_stack is not None:
            runs.append(("stock", stock_stack, "stock", "rest"))
        for users in DURABLE_LEVELS:
            log(f"durable, {users} users: {args.rounds} alternating rounds of {args.duration / args.rounds:.1f} s "
                f"each for {', '.join(key for key, *_ in runs)}")
            levels = interleaved(runs, users, args.duration, args.rounds, acks={"ours": acks})
            record(ours, levels["ours"], "durable ours")
            if stock is not None:
                record(stock, levels["stock"], "durable stock")
        if stock_stack is not None:
            stock_stack.stop()
            time.sleep(3.0)  # let its shutdown finish before timing single turns
        if not args.no_long:
            log(f"long conversation: {args.long_turns} turns from one sender")
            out["long_conversation"] = long_conversation(ours_stack, args.long_turns, acks, ours_url)
            lc = out["long_conversation"]
            log(f"long conversation: latency ×{lc['latency_ratio']}, CPU ×{lc['cpu_ratio']} "
                f"(turns {lc['early_turns']} vs {lc['late_turns']}), {lc['errors']} errors")
        if not args.no_soak:
            out["soak"] = soak(ours_stack, args.soak_conversations, acks, args.soak_seconds)
        out["turns"] = turn_accounting(acks, stored_user_texts(ours_url))
        log(f"durable: {out['turns']}")
    finally:
        for stack in (stock_stack, ours_stack):
            if stack is not None:
                stack.stop()
        backends.stop()
    out["ours"], out["stock"] = ours, stock
    return out


def run_all(args: argparse.Namespace, work: Path) -> Tuple[dict, Optional[dict], Optional[dict]]:
    """Train both, then the in-memory measurement, then the durable one."""
    ours_stack, ours = prepare_ours(args, work)
    stock_stack, stock, durable_stock_stack, durable_stock = None, None, None, None
    if not args.no_stock and not args.stock_from:
        stock_stack, stock, durable_stock_stack, durable_stock = prepare_stock(work, with_actions=not args.no_durable)
    run_memory(args, ours_stack, ours, stock_stack, stock)
    durable = None
    if not args.no_durable:
        durable = run_durable(args, work, ours_stack.model, durable_stock_stack, durable_stock)
    if args.stock_from:
        log(f"reusing the stock figures of {args.stock_from}")
        earlier = json.loads(args.stock_from.read_text())
        stock = earlier["stock"]
        stock["reused_from"] = str(args.stock_from)
        if durable is not None and (earlier.get("durable") or {}).get("stock"):
            durable["stock"] = earlier["durable"]["stock"]
            durable["stock"]["reused_from"] = str(args.stock_from)
            if stock_variant(durable["stock"], durable=True) != STOCK_VARIANT_DURABLE:
                log(f"note: the reused durable stock is {stock_variant(durable['stock'], durable=True)!r}")
    return ours, stock, durable


def gate(value: Optional[float], limit: float, at_least: bool) -> dict:
    ok = value is not None and (value >= limit if at_least else value <= limit)
    return {"value": value, ("min" if at_least else "max"): limit, "ok": ok}


def ranker_cost() -> dict:
    """The entry ranker's own CPU per message (bench/answer_ranking.py), in its own process."""
    proc = subprocess.run([sys.executable, "-m", "bench.answer_ranking", "--cpu-only"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"bench.answer_ranking printed no result: {proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def flood_cost() -> dict:
    """One sender's flood beside a second user (bench/flood.py), on its own stack."""
    proc = subprocess.run([sys.executable, "-m", "bench.flood"], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise RuntimeError(f"bench.flood printed no result: {proc.stderr[-2000:]}") from None


def _flood_p95(flood: Optional[dict]) -> Optional[float]:
    """The second user's p95 during the flood; None (a miss) if any of their messages was refused."""
    during = (flood or {}).get("second_user_during_flood") or {}
    statuses = during.get("statuses") or {"200": 1}
    return during.get("p95_ms") if set(statuses) == {"200"} else None


def stock_variant(stock: Optional[dict], durable: bool) -> Optional[str]:
    """Which stock assistant a section's figures are of: as recorded, or for results made
    before the label (reused with --stock-from), the responses-only one they all were."""
    if not stock:
        return None
    return stock.get("variant") or (STOCK_VARIANT_DURABLE_RESPONSES if durable else STOCK_VARIANT_MEMORY)


def durable_summary(durable: dict) -> dict:
    """The durable headline: ours ÷ stock at each level (the gate is the smaller), p95 at
    32 users, CPU per message, and the lost / duplicated turns."""
    ours, stock = durable["ours"], durable.get("stock")
    by_users, tput, stock_tput, cpu = {}, {}, {}, {}
    for users in DURABLE_LEVELS:
        key = str(users)
        level = ours["levels"].get(key)
        if level is None:
            continue
        tput[key] = level["throughput_per_s"]
        cpu[key] = {"ours": round(sum(level["cpu_ms_per_request"].values()), 2),
                    "ours_by_process": level["cpu_ms_per_request"]}
        other = (stock or {}).get("levels", {}).get(key)
        if other:
            stock_tput[key] = other["throughput_per_s"]
            by_users[key] = round(tput[key] / stock_tput[key], 2) if stock_tput[key] else None
            cpu[key]["stock"] = round(sum(other["cpu_ms_per_request"].values()), 2)
            cpu[key]["stock_by_process"] = other["cpu_ms_per_request"]
    ratios = [r for r in by_users.values() if r is not None]
    p95 = ours["levels"].get(str(DURABLE_P95_USERS), {}).get("p95_ms")
    turns = durable.get("turns") or {}
    return {
        "stock_variant": stock_variant(stock, durable=True),
        "ratio_vs_stock": min(ratios) if ratios and len(ratios) == len(DURABLE_LEVELS) else None,
        "ratio_vs_stock_by_users": by_users,
        "p95_ms": p95,
        "p95_ms_by_users": {k: lv["p95_ms"] for k, lv in ours["levels"].items()},
        "throughput_per_s_by_users": tput,
        "stock_throughput_per_s_by_users": stock_tput,
        "stock_p95_ms_by_users": {k: lv["p95_ms"] for k, lv in ((stock or {}).get("levels") or {}).items()},
        "server_cpu_ms_per_message": cpu,
        "lost_turns": turns.get("lost_turns"),
        "duplicate_turns": turns.get("duplicate_turns"),
        "acknowledged_turns": turns.get("acknowledged_turns"),
        "stored_turns": turns.get("stored_turns"),
        "errors": (ours["check"]["errors"] + sum(lv["errors"] for lv in ours["levels"].values())
                   if "check" in ours else None),
    }


def summarise(ours: dict, stock: Optional[dict], ranker: Optional[dict] = None,
              durable: Optional[dict] = None, flood: Optional[dict] = None) -> dict:
    """The headline figures (our bot in memory at 8 users; the durable set-up, the long
    conversation and the soak beside it) and the gates."""
    level = ours["levels"][str(GATE_USERS)]
    tput = level["throughput_per_s"]
    ceiling = (ours.get("nlu_parse") or {}).get("throughput_per_s")
    stock_tput = stock["levels"][str(GATE_USERS)]["throughput_per_s"] if stock else None
    ratio = round(tput / stock_tput, 2) if stock_tput else None
    # CPU time per message hardly moves with other load on the machine: a cross-check of the ratio.
    cpu_ours = round(sum(level["cpu_ms_per_request"].values()), 2)
    cpu_stock = None
    if stock:
        cpu_stock = round(sum(stock["levels"][str(GATE_USERS)].get("cpu_ms_per_request", {}).values()), 2)
    errors = {"in_memory": (ours["check"]["errors"] + (ours.get("nlu_parse") or {}).get("errors", 0)
                            + sum(lv["errors"] for lv in ours["levels"].values()))}
    durable = durable or {}
    head = durable_summary(durable) if durable else None
    long = durable.get("long_conversation")
    soaked = durable.get("soak")
    if head is not None:
        errors["durable"] = head["errors"]
    if long is not None:
        errors["long_conversation"] = long["errors"]
    if soaked is not None:
        errors["soak"] = soaked["errors"]
    by_users = (head or {}).get("ratio_vs_stock_by_users", {})
    gates = {
        "throughput_vs_stock": gate(ratio, MIN_RATIO_VS_STOCK, True),
        "p95_ms": gate(level["p95_ms"], MAX_P95_MS, False),
        "startup_s": gate(ours["startup_s"], MAX_STARTUP_S, False),
        "train_s": gate(ours.get("train_s"), MAX_TRAIN_S, False),
        "idle_rss_mb": gate(ours["idle_rss_mb"]["total"], MAX_IDLE_RSS_MB, False),
        "errors": gate(sum(v or 0 for v in errors.values()), 0, False),
        # Issue 13: choosing the entry may add at most 2 ms of CPU per message.
        "entry_ranker_cpu_ms": gate((ranker or {}).get("entry_ranker_cpu_ms_per_message"),
                                    MAX_RANKER_CPU_MS, False),
        # Issue 15: the production set-up (PostgreSQL tracker, Redis lock) beside stock in the same.
        **{f"durable_vs_stock_{u}_users": gate(by_users.get(str(u)), MIN_DURABLE_RATIO, True)
           for u in DURABLE_LEVELS},
        "durable_p95_ms": gate((head or {}).get("p95_ms"), MAX_DURABLE_P95_MS, False),
        "durable_lost_turns": gate((head or {}).get("lost_turns"), MAX_LOST_TURNS, False),
        "long_conversation_turn_cost_ratio": gate((long or {}).get("turn_cost_ratio"), MAX_TURN_COST_RATIO, False),
        "soak_rss_growth_mb_per_10k": gate((soaked or {}).get("rss_growth_mb_per_10k_conversations"),
                                           MAX_SOAK_MB_PER_10K, False),
        # Issue 16: during one sender's 300-request flood, a second user's p95.
        "flood_second_user_p95_ms": gate(_flood_p95(flood), MAX_FLOOD_P95_MS, False),
    }
    if flood is None:
        gates["flood_second_user_p95_ms"]["skipped"] = True
    if stock is None:
        gates["throughput_vs_stock"]["skipped"] = True
    if ours.get("train_s") is None:
        gates["train_s"]["skipped"] = True
    if ranker is None:
        gates["entry_ranker_cpu_ms"]["skipped"] = True
    if head is None or not durable.get("stock"):
        for u in DURABLE_LEVELS:
            gates[f"durable_vs_stock_{u}_users"]["skipped"] = True
    if head is None:
        gates["durable_p95_ms"]["skipped"] = True
        gates["durable_lost_turns"]["skipped"] = True
    if long is None:
        gates["long_conversation_turn_cost_ratio"]["skipped"] = True
    if soaked is None:
        gates["soak_rss_growth_mb_per_10k"]["skipped"] = True
    out = {
        "users": GATE_USERS,
        "throughput_per_s": tput,
        "p50_ms": level["p50_ms"], "p95_ms": level["p95_ms"], "p99_ms": level["p99_ms"],
        "errors": sum(v or 0 for v in errors.values()),
        "errors_by_section": errors,
        "startup_s": ours["startup_s"],
        "train_s": ours.get("train_s"),
        "idle_rss_mb": ours["idle_rss_mb"],
        "peak_rss_mb": ours["peak_rss_mb"],
        # Information only (the share-of-ceiling gate is retired): with --nlu-ceiling.
        "nlu_ceiling_per_s": ceiling,
        "share_of_nlu_ceiling": round(tput / ceiling, 2) if ceiling else None,
        "stock_variant": stock_variant(stock, durable=False),
        "stock_throughput_per_s": stock_tput,
        "ratio_vs_stock": ratio,
        "server_cpu_ms_per_message": {"ours": cpu_ours, "stock": cpu_stock},
        "entry_ranker_cpu_ms_per_message": (ranker or {}).get("entry_ranker_cpu_ms_per_message"),
        "cpu_ratio_vs_stock": round(cpu_stock / cpu_ours, 2) if cpu_stock and cpu_ours else None,
    }
    if durable:
        out["durable"] = {**(head or {}), "turns": durable.get("turns"),
                          "tracker_store": durable.get("tracker_store"), "lock_store": durable.get("lock_store")}
        out["long_conversation"] = long
        out["soak"] = soaked
    if flood is not None:
        out["flood"] = flood
    out["gates"] = gates
    out["passed"] = all(g["ok"] or g.get("skipped") for g in gates.values())
    return out


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=Path("bot/config.yml"), help="our Rasa config")
    ap.add_argument("--endpoints", type=Path, help="another endpoints file for the Rasa server")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for our servers (e.g. SANIC_WORKERS=2)")
    ap.add_argument("--rasa-arg", action="append", default=[], metavar="ARG",
                    help="extra `rasa run` argument, repeat per token (e.g. --rasa-arg=--response-timeout --rasa-arg=10)")
    ap.add_argument("--redis", action="store_true",
                    help="start a loopback redis-server; its port is $BENCH_REDIS_PORT for --endpoints")
    ap.add_argument("--model", type=Path, help="serve this model instead of training one (no training time)")
    ap.add_argument("--save-model", type=Path, help="keep a copy of the trained model here")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per load level")
    ap.add_argument("--rounds", type=int, default=4,
                    help="alternating rounds the gate level's duration is split into")
    ap.add_argument("--stock-from", type=Path, help="reuse the stock figures of an earlier result file")
    ap.add_argument("--no-stock", action="store_true", help="skip the stock assistant (no ratio gate)")
    ap.add_argument("--accuracy", action="store_true", help="also report held-out intent macro-F1")
    ap.add_argument("--nlu-ceiling", action="store_true",
                    help="also measure our /model/parse throughput in the 8-user rounds (information only)")
    ap.add_argument("--no-durable", action="store_true",
                    help="skip the durable set-up (PostgreSQL + Redis), the long conversation and the soak")
    ap.add_argument("--no-long", action="store_true", help="skip the long conversation")
    ap.add_argument("--no-soak", action="store_true", help="skip the soak")
    ap.add_argument("--no-flood", action="store_true", help="skip the flood (bench/flood.py)")
    ap.add_argument("--long-turns", type=int, default=LONG_TURNS, help="turns of the long conversation")
    ap.add_argument("--soak-conversations", type=int, default=SOAK_CONVERSATIONS,
                    help="new conversations after the soak's warm-up")
    ap.add_argument("--soak-seconds", type=float, default=SOAK_SECONDS,
                    help="stop the soak at the first reading after this long (at least 2 readings)")
    ap.add_argument("--name", default="latest", help="result file name under bench/results/")
    args = ap.parse_args(argv)
    if not 1 <= args.duration <= 120:
        ap.error("--duration must be between 1 and 120 seconds")
    if not 1 <= args.rounds <= 20 or args.duration / args.rounds < 1:
        ap.error("--rounds must be 1-20, with at least 1 second per round")
    if not 2 * LONG_WINDOW + 2 <= args.long_turns <= 5000:
        ap.error(f"--long-turns must be {2 * LONG_WINDOW + 2}-5000")
    if not 100 <= args.soak_conversations <= 100_000:
        ap.error("--soak-conversations must be 100-100000")
    if not 10 <= args.soak_seconds <= 3600:
        ap.error("--soak-seconds must be 10-3600")
    if any("=" not in kv for kv in args.env):
        ap.error("--env takes KEY=VALUE")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,80}", args.name) or args.name.startswith("."):
        ap.error("--name: letters, digits, '_', '-' and '.' only")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    os.chdir(ROOT)
    # A timeout or Ctrl-C must still stop the servers we started (the finally blocks do it).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="baclofen-bench-"))
    try:
        ours, stock, durable = run_all(args, work)
    except (StackError, RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ranker = ranker_cost()
    try:
        flood = None if args.no_flood else flood_cost()
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    report = {"bench": "baclofen-assistant", "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "loadavg_1m_at_end": round(os.getloadavg()[0], 2),  # other work on the machine skews figures
              **summarise(ours, stock, ranker, durable, flood), "ours": ours, "stock": stock}
    if durable is not None:  # the full durable measurements beside the headline
        report["durable"].update(ours=durable["ours"], stock=durable["stock"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, ensure_ascii=False), flush=True)
    for name, g in report["gates"].items():
        state = "skipped" if g.get("skipped") else ("ok" if g["ok"] else "MISSED")
        log(f"gate {name}: {g['value']} ({'≥' if 'min' in g else '≤'} {g.get('min', g.get('max'))}) {state}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
