"""Performance benchmark: our real stack against the stock `rasa init` assistant.

    .venv/bin/python -m bench.run            (what `make bench` runs)

1. trains our bot from scratch (`rasa train --force`, empty cache) and times it;
   creates and trains a fresh `rasa init` assistant;
2. starts our real stack (action server + knowledge base + Rasa server, scripts/stack.py,
   free ports; launch → healthy is the start-up time), checks every benchmark
   conversation once and reads idle memory; then starts the stock assistant the same way;
3. drives them from a separate process (bench/load.py): the gate level (8 users) in
   alternating rounds — ours, stock, our /model/parse (the NLU-only ceiling) — so both
   sides of each ratio see the same machine; then 32 users for each;
4. prints ONE JSON line (also written to bench/results/<name>.json) and exits 1
   when a gate is missed.

Options let the same run measure a variant (another config, endpoints file,
environment, `rasa run` option) and its held-out NLU macro-F1; see bench/README.md.
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
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bench import procs
from bench.load import percentile
from bench.servers import BenchStack, Redis, StockStack, init_stock, nlu_macro_f1, train_ours
from scripts.stack import ROOT, Stack, StackError, free_port

LEVELS = (8, 32)
GATE_USERS = 8
RESULTS = ROOT / "bench" / "results"
LOG_DIR = ROOT / "build" / "logs" / "bench"

# Targets from the product issue (2-core, 24 GB machine).
MIN_RATIO_VS_STOCK = 2.5
MIN_SHARE_OF_NLU_CEILING = 0.6
MAX_P95_MS = 250.0
MAX_STARTUP_S = 20.0
MAX_TRAIN_S = 90.0
MAX_IDLE_RSS_MB = 1.5 * 1024  # 1.5 GiB for all our processes together
MAX_RANKER_CPU_MS = 2.0


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def drive(url: str, users: int, duration: float, mix: str, mode: str = "rest",
          once: bool = False, seed: int = 1, raw: bool = False) -> dict:
    """Run bench.load in its own process (so it does not share our interpreter) and parse its JSON."""
    cap = min(100_000, max(100, int(3000 * duration)))  # safety bound (load.py allows ≤ 100k), far above ~600/s
    cmd = [sys.executable, "-m", "bench.load", "--url", url, "--users", str(users),
           "--duration", str(duration), "--mix", mix, "--mode", mode, "--max-requests", str(cap),
           "--seed", str(seed)]
    if once:
        cmd.append("--once")
    if raw:
        cmd.append("--raw")
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=duration + 300)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the load generator failed (code {done.returncode}): {done.stderr[-2000:]}")
    return json.loads(lines[-1])


def roots(stack: Stack) -> Dict[str, int]:
    """The processes whose memory and CPU count: every part, plus redis when the variant uses it."""
    found = {part.name: part.proc.pid for part in stack.parts if part.proc is not None}
    redis = getattr(stack, "redis", None)
    if redis is not None and redis.proc is not None:
        found["redis"] = redis.proc.pid
    return found


def mb(values: Dict[str, int]) -> Dict[str, float]:
    out = {name: procs.to_mb(v) for name, v in values.items()}
    out["total"] = procs.to_mb(sum(values.values()))
    return out


def loaded(stack: Stack, users: int, duration: float, mix: str, mode: str = "rest",
           seed: int = 1, raw: bool = False) -> dict:
    """One load level with its peak memory and the servers' CPU time per handled request."""
    pids = roots(stack)
    loadavg = round(os.getloadavg()[0], 2)
    cpu_before = {name: procs.tree_cpu(pid) for name, pid in pids.items()}
    with procs.PeakSampler(pids) as sampler:
        level = drive(stack.rasa_url, users, duration, mix, mode=mode, seed=seed, raw=raw)
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
                rounds: int) -> Dict[str, dict]:
    """Alternate short rounds of each (key, stack, mix, mode) and merge each one's rounds.

    The gates are ratios (ours / stock, ours / our parse ceiling). Measured one after
    the other, minutes apart, they moved by ±30 % with the speed this shared machine
    gives us; in alternating rounds both sides of each ratio see the same machine.
    """
    parts: Dict[str, List[dict]] = {key: [] for key, *_ in runs}
    for i in range(rounds):
        for key, stack, mix, mode in runs:
            parts[key].append(loaded(stack, users, duration / rounds, mix, mode, seed=i + 1, raw=True))
    return {key: merge_rounds(levels) for key, levels in parts.items()}


def start_checked(stack: Stack, mix: str) -> dict:
    """Start (timed), check every conversation once, warm up, read idle memory."""
    t0 = time.monotonic()
    stack.start()
    startup = time.monotonic() - t0
    if mix == "ours":
        stack.probe()  # the same end-to-end check as `make run`: fails fast with the reason
    log(f"{mix}: healthy after {startup:.1f} s; checking every conversation once")
    check = drive(stack.rasa_url, 1, 120, mix, once=True)
    drive(stack.rasa_url, GATE_USERS, 3, mix)  # warm-up under concurrency, not recorded
    if mix == "ours":
        drive(stack.rasa_url, GATE_USERS, 2, mix, mode="parse")
    time.sleep(3.0)  # let the servers settle before reading idle memory
    return {"startup_s": round(startup, 2), "check": check,
            "idle_rss_mb": mb(procs.rss_now(roots(stack))),
            "idle_pss_mb": mb(procs.pss_now(roots(stack))),
            "levels": {}, "peak_rss_mb": {}}


def record(result: dict, level: dict) -> None:
    """File a measured level (a /model/parse level as result["nlu_parse"]) and log it."""
    rounds = level.get("rounds", 1)
    if level["mode"] == "parse":
        result["nlu_parse"] = level
        log(f"{level['mix']}: /model/parse at {level['users']}: {level['throughput_per_s']} req/s ({rounds} rounds)")
    else:
        result["levels"][str(level["users"])] = level
        log(f"{level['mix']}: {level['users']} users: {level['throughput_per_s']} msg/s, p95 {level['p95_ms']} ms, "
            f"{level['errors']} errors, {level['cpu_ms_per_request']} CPU ms/request ({rounds} rounds)")
    peaks = result["peak_rss_mb"]
    peaks.update({k: max(v, peaks.get(k, 0.0)) for k, v in level["peak_rss_mb"].items()})


def prepare_ours(args: argparse.Namespace, work: Path) -> Tuple[BenchStack, dict]:
    """Our stack, trained (timed) unless --model names one."""
    extra_env = dict(kv.split("=", 1) for kv in args.env)
    stack = BenchStack(rasa_port=free_port(), actions_port=free_port(), with_web=False,
                       enable_api=True, log_dir=LOG_DIR, extra_env=extra_env,
                       endpoints=args.endpoints, rasa_args=list(args.rasa_arg))
    result: dict = {"config": str(args.config), "endpoints": str(args.endpoints or "bot/endpoints.yml"),
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


def prepare_stock(work: Path) -> Tuple[StockStack, dict]:
    """A fresh `rasa init` assistant, created and trained (timed)."""
    project = work / "stock"
    log("creating and training the stock assistant (rasa init --no-prompt)")
    seconds, model = init_stock(project, BenchStack().env(), LOG_DIR / "stock-init.log")
    stack = StockStack(rasa_port=free_port(), model=model, log_dir=LOG_DIR, with_web=False,
                       credentials=project / "credentials.yml")
    return stack, {"init_and_train_s": round(seconds, 1)}


def run_both(args: argparse.Namespace, work: Path) -> Tuple[dict, Optional[dict]]:
    """Both assistants up at once; the gate level in alternating rounds, then the rest."""
    ours_stack, ours = prepare_ours(args, work)
    stock_stack, stock = None, None
    try:
        if not args.no_stock and not args.stock_from:
            stock_stack, stock = prepare_stock(work)
        if args.redis:
            ours_stack.redis = Redis(LOG_DIR / "redis.log")
            ours_stack.redis.start()
            ours_stack.extra_env["BENCH_REDIS_PORT"] = str(ours_stack.redis.port)
        ours.update(start_checked(ours_stack, "ours"))  # its idle memory is read before stock starts
        if stock_stack is not None and stock is not None:
            stock.update(start_checked(stock_stack, "stock"))
        runs: List[Tuple[str, Stack, str, str]] = [("ours", ours_stack, "ours", "rest")]
        if stock_stack is not None:
            runs.append(("stock", stock_stack, "stock", "rest"))
        runs.append(("parse", ours_stack, "ours", "parse"))
        log(f"{GATE_USERS} users: {args.rounds} alternating rounds of {args.duration / args.rounds:.1f} s "
            f"each for {', '.join(key for key, *_ in runs)}")
        gate_levels = interleaved(runs, GATE_USERS, args.duration, args.rounds)
        record(ours, gate_levels["ours"])
        if stock is not None:
            record(stock, gate_levels["stock"])
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
    if args.stock_from:
        log(f"reusing the stock figures of {args.stock_from}")
        stock = json.loads(args.stock_from.read_text())["stock"]
        stock["reused_from"] = str(args.stock_from)
    return ours, stock


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


def summarise(ours: dict, stock: Optional[dict], ranker: Optional[dict] = None) -> dict:
    """The headline figures (our bot at 8 users) and the gates."""
    level = ours["levels"][str(GATE_USERS)]
    tput = level["throughput_per_s"]
    ceiling = ours["nlu_parse"]["throughput_per_s"]
    stock_tput = stock["levels"][str(GATE_USERS)]["throughput_per_s"] if stock else None
    ratio = round(tput / stock_tput, 2) if stock_tput else None
    # CPU time per message hardly moves with other load on the machine: a cross-check of the ratio.
    cpu_ours = round(sum(level["cpu_ms_per_request"].values()), 2)
    cpu_stock = None
    if stock:
        cpu_stock = round(sum(stock["levels"][str(GATE_USERS)].get("cpu_ms_per_request", {}).values()), 2)
    share = round(tput / ceiling, 2) if ceiling else None
    errors = (ours["check"]["errors"] + ours["nlu_parse"]["errors"]
              + sum(lv["errors"] for lv in ours["levels"].values()))
    gates = {
        "throughput_vs_stock": gate(ratio, MIN_RATIO_VS_STOCK, True),
        "share_of_nlu_ceiling": gate(share, MIN_SHARE_OF_NLU_CEILING, True),
        "p95_ms": gate(level["p95_ms"], MAX_P95_MS, False),
        "startup_s": gate(ours["startup_s"], MAX_STARTUP_S, False),
        "train_s": gate(ours.get("train_s"), MAX_TRAIN_S, False),
        "idle_rss_mb": gate(ours["idle_rss_mb"]["total"], MAX_IDLE_RSS_MB, False),
        "errors": gate(errors, 0, False),
        # Issue 13: choosing the entry may add at most 2 ms of CPU per message.
        "entry_ranker_cpu_ms": gate((ranker or {}).get("entry_ranker_cpu_ms_per_message"),
                                    MAX_RANKER_CPU_MS, False),
    }
    if stock is None:
        gates["throughput_vs_stock"]["skipped"] = True
    if ours.get("train_s") is None:
        gates["train_s"]["skipped"] = True
    if ranker is None:
        gates["entry_ranker_cpu_ms"]["skipped"] = True
    return {
        "users": GATE_USERS,
        "throughput_per_s": tput,
        "p50_ms": level["p50_ms"], "p95_ms": level["p95_ms"], "p99_ms": level["p99_ms"],
        "errors": errors,
        "startup_s": ours["startup_s"],
        "train_s": ours.get("train_s"),
        "idle_rss_mb": ours["idle_rss_mb"],
        "peak_rss_mb": ours["peak_rss_mb"],
        "nlu_ceiling_per_s": ceiling,
        "share_of_nlu_ceiling": share,
        "stock_throughput_per_s": stock_tput,
        "ratio_vs_stock": ratio,
        "server_cpu_ms_per_message": {"ours": cpu_ours, "stock": cpu_stock},
        "entry_ranker_cpu_ms_per_message": (ranker or {}).get("entry_ranker_cpu_ms_per_message"),
        "cpu_ratio_vs_stock": round(cpu_stock / cpu_ours, 2) if cpu_stock and cpu_ours else None,
        "gates": gates,
        "passed": all(g["ok"] or g.get("skipped") for g in gates.values()),
    }


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
    ap.add_argument("--name", default="latest", help="result file name under bench/results/")
    args = ap.parse_args(argv)
    if not 1 <= args.duration <= 120:
        ap.error("--duration must be between 1 and 120 seconds")
    if not 1 <= args.rounds <= 20 or args.duration / args.rounds < 1:
        ap.error("--rounds must be 1-20, with at least 1 second per round")
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
        ours, stock = run_both(args, work)
    except (StackError, RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ranker = ranker_cost()
    report = {"bench": "baclofen-assistant", "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "loadavg_1m_at_end": round(os.getloadavg()[0], 2),  # other work on the machine skews figures
              **summarise(ours, stock, ranker), "ours": ours, "stock": stock}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, ensure_ascii=False), flush=True)
    for name, g in report["gates"].items():
        state = "skipped" if g.get("skipped") else ("ok" if g["ok"] else "MISSED")
        log(f"gate {name}: {g['value']} ({'≥' if 'min' in g else '≤'} {g.get('min', g.get('max'))}) {state}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
