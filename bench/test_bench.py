"""Tests of the benchmark's own parts (in `make test`; alone: `.venv/bin/python -m pytest bench -q`, ~5 s).

The load generator is driven against a real loopback HTTP server that imitates the REST
channel, so its counting of replies, errors and latencies is checked end to end.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import List

from aiohttp import web

from bench import procs
from bench.load import DISCLAIMER_MARK, EMERGENCY_MARK, check_reply, percentile, run_load
from bench.questions import CHAT, EMERGENCY, KB, MIXES, OURS, STOCK, Turn, texts
from scripts.stack import free_port


def test_check_reply_accepts_what_each_turn_expects() -> None:
    answer = [{"text": "Baclofen is ..."}, {"text": f"{DISCLAIMER_MARK} Please contact your doctor."}]
    emergency = [{"text": f"{EMERGENCY_MARK} Call 911."}, answer[1]]
    assert check_reply(Turn("what is baclofen?", KB), answer) is None
    assert check_reply(Turn("took 20 tablets", EMERGENCY), emergency) is None
    assert check_reply(Turn("hi", CHAT), [{"text": "Hello!"}]) is None


def test_check_reply_names_each_kind_of_failure() -> None:
    assert check_reply(Turn("hi", CHAT), []) == "empty_reply"
    assert check_reply(Turn("hi", CHAT), [{"text": "  "}]) == "empty_reply"
    assert check_reply(Turn("hi", CHAT), {"error": "x"}) == "empty_reply"
    assert check_reply(Turn("dose?", KB), [{"text": "Sorry, I didn't understand."}]) == "no_disclaimer"
    apology = [{"text": "Sorry — I couldn't look that up just now."}, {"text": f"{DISCLAIMER_MARK} x"}]
    assert check_reply(Turn("dose?", KB), apology) == "apology"
    answer_only = [{"text": "Baclofen ..."}, {"text": f"{DISCLAIMER_MARK} x"}]
    assert check_reply(Turn("took 20 tablets", EMERGENCY), answer_only) == "no_emergency_first"


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 95) is None


def test_question_mixes_cover_the_topics_and_kinds() -> None:
    assert len(OURS) >= 20 and len(STOCK) >= 5
    kinds = {turn.expect for c in OURS for turn in c}
    assert kinds == {KB, EMERGENCY, CHAT}
    words = " ".join(texts(OURS)).lower()
    for needle in ("pump", "oxycodone", "lioresal", "children", "pregnancy", "hi", "mri", "alarm"):
        assert needle in words
    assert set(MIXES) == {"ours", "stock"}


async def _serve(replies: List[dict], port: int) -> web.AppRunner:
    async def webhook(request: web.Request) -> web.Response:
        await request.json()
        await asyncio.sleep(0.005)
        return web.json_response(replies)

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def _load_against(replies: List[dict], **kwargs: object) -> dict:
    async def go() -> dict:
        port = free_port()
        runner = await _serve(replies, port)
        try:
            return await run_load(f"http://127.0.0.1:{port}", users=4, duration=1.0, mix="ours",
                                  mode="rest", max_requests=10000, timeout=5.0, seed=1, **kwargs)
        finally:
            await runner.cleanup()
    return asyncio.run(go())


def test_load_counts_requests_latencies_and_no_errors_for_good_replies() -> None:
    good = [{"text": f"{EMERGENCY_MARK} advice"}, {"text": f"{DISCLAIMER_MARK} contact your clinician"}]
    result = _load_against(good)
    assert result["errors"] == 0, result["error_examples"]
    assert result["requests"] > 20
    assert result["throughput_per_s"] > 20
    assert 5.0 <= result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert "latencies_ms" not in result


def test_load_can_return_every_latency_for_merging_rounds() -> None:
    good = [{"text": f"{EMERGENCY_MARK} advice"}, {"text": f"{DISCLAIMER_MARK} contact your clinician"}]
    result = _load_against(good, raw=True)
    assert len(result["latencies_ms"]) == result["requests"] - result["errors"]
    # raw latencies keep 2 decimals, max_ms 1 (both rounded from the same float)
    assert abs(max(result["latencies_ms"]) - result["max_ms"]) <= 0.05 + 0.005


def test_load_counts_empty_replies_as_errors_and_respects_the_request_cap() -> None:
    async def go() -> dict:
        port = free_port()
        runner = await _serve([], port)
        try:
            return await run_load(f"http://127.0.0.1:{port}", users=4, duration=5.0, mix="ours",
                                  mode="rest", max_requests=30, timeout=5.0, seed=1)
        finally:
            await runner.cleanup()
    result = asyncio.run(go())
    assert result["requests"] == 30 and result["hit_request_cap"]
    assert result["errors"] == 30 and result["error_kinds"] == {"empty_reply": 30}


def test_load_once_holds_every_conversation_once() -> None:
    good = [{"text": f"{EMERGENCY_MARK} advice"}, {"text": f"{DISCLAIMER_MARK} contact your clinician"}]
    async def go() -> dict:
        port = free_port()
        runner = await _serve(good, port)
        try:
            return await run_load(f"http://127.0.0.1:{port}", users=1, duration=60.0, mix="ours",
                                  mode="rest", max_requests=10000, timeout=5.0, seed=1, once=True)
        finally:
            await runner.cleanup()
    result = asyncio.run(go())
    assert result["requests"] == len(texts(OURS))


def test_load_refuses_non_loopback_urls() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.load", "--url", "http://example.com", "--duration", "1"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "127.0.0.1" in done.stderr


def test_process_memory_and_cpu_include_children() -> None:
    child = subprocess.Popen([sys.executable, "-c", "x = bytearray(50_000_000); import time; time.sleep(30)"])
    try:
        for _ in range(50):  # wait until the child has allocated its 50 MB
            if procs.rss_bytes(child.pid) > 40_000_000:
                break
            time.sleep(0.1)
        me = os.getpid()
        assert child.pid in procs.descendants(me)
        assert procs.tree_rss(me) >= procs.rss_bytes(me) + 40_000_000
        assert procs.tree_pss(me) > 0
        assert procs.tree_cpu(me) >= procs.cpu_seconds(me) > 0
    finally:
        child.kill()
        child.wait()
    assert procs.rss_bytes(child.pid) == 0 and procs.cpu_seconds(child.pid) == 0.0


def _round(tput: float, secs: float, latencies: List[float], errors: int = 0) -> dict:
    return {"mode": "rest", "mix": "ours", "users": 8, "duration_s": secs, "requests": len(latencies) + errors,
            "throughput_per_s": tput, "latencies_ms": list(latencies), "errors": errors,
            "error_kinds": {"http_500": errors} if errors else {}, "error_examples": ["x"] * errors,
            "hit_request_cap": False, "cpu_s": {"Rasa server": 0.5}, "peak_rss_mb": {"Rasa server": 800.0 + tput},
            "loadavg_1m_before": 0.1}


def test_rounds_merge_into_totals_and_percentiles_over_every_latency() -> None:
    from bench.run import merge_rounds

    merged = merge_rounds([_round(10.0, 2.0, [10.0] * 20), _round(5.0, 2.0, [100.0] * 10, errors=2)])
    assert merged["rounds"] == 2 and merged["duration_s"] == 4.0 and merged["requests"] == 32
    assert merged["throughput_per_s"] == 7.5  # 30 replies in 4 s, not the mean of 10 and 5
    assert merged["throughput_per_round"] == [10.0, 5.0]
    assert merged["p50_ms"] == 10.0 and merged["p95_ms"] == 100.0
    assert merged["errors"] == 2 and merged["error_kinds"] == {"http_500": 2}
    assert merged["cpu_ms_per_request"] == {"Rasa server": round(1000 * 1.0 / 32, 2)}
    assert merged["peak_rss_mb"] == {"Rasa server": 810.0}
    assert "latencies_ms" not in merged


def test_record_files_parse_levels_apart_and_keeps_peak_memory() -> None:
    from bench.run import record

    result: dict = {"levels": {}, "peak_rss_mb": {}}
    record(result, {"mode": "rest", "mix": "ours", "users": 8, "throughput_per_s": 70.0, "p95_ms": 150.0,
                    "errors": 0, "cpu_ms_per_request": {}, "peak_rss_mb": {"Rasa server": 900.0}})
    record(result, {"mode": "parse", "mix": "ours", "users": 8, "throughput_per_s": 150.0,
                    "peak_rss_mb": {"Rasa server": 880.0}, "rounds": 4})
    assert result["levels"]["8"]["throughput_per_s"] == 70.0
    assert result["nlu_parse"]["throughput_per_s"] == 150.0
    assert result["peak_rss_mb"] == {"Rasa server": 900.0}
