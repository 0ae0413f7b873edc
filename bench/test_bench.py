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


# --------------------------------------------------------------- issue 15: durable, long, soak


def _durable(ours_8: float, ours_32: float, stock_8: float, stock_32: float, p95_32: float,
             lost: int = 0) -> dict:
    def level(tput: float, p95: float) -> dict:
        return {"throughput_per_s": tput, "p95_ms": p95, "errors": 0,
                "cpu_ms_per_request": {"Rasa server": 1000 / tput}}
    return {
        "ours": {"check": {"errors": 0}, "levels": {"8": level(ours_8, 60.0), "32": level(ours_32, p95_32)}},
        "stock": {"levels": {"8": level(stock_8, 200.0), "32": level(stock_32, 900.0)}},
        "turns": {"lost_turns": lost, "duplicate_turns": 0, "acknowledged_turns": 100, "stored_turns": 100 - lost},
        "long_conversation": {"turn_cost_ratio": 1.2, "errors": 0},
        "soak": {"rss_growth_mb_per_10k_conversations": 4.0, "errors": 0},
    }


def _memory(tput: float = 150.0, stock: float = 45.0, p95: float = 80.0) -> "tuple[dict, dict]":
    ours = {"levels": {"8": {"throughput_per_s": tput, "p50_ms": 50.0, "p95_ms": p95, "p99_ms": p95 + 5,
                             "errors": 0, "cpu_ms_per_request": {"Rasa server": 6.0}}},
            "check": {"errors": 0}, "startup_s": 6.0, "train_s": 45.0,
            "idle_rss_mb": {"total": 1300.0}, "peak_rss_mb": {"total": 1350.0}}
    return ours, {"levels": {"8": {"throughput_per_s": stock, "cpu_ms_per_request": {"stock Rasa server": 19.0}}}}


def test_summary_passes_when_every_target_is_met_and_has_no_nlu_ceiling_gate() -> None:
    from bench.run import summarise

    ours, stock = _memory()
    report = summarise(ours, stock, {"entry_ranker_cpu_ms_per_message": 1.0},
                       _durable(130.0, 135.0, 20.0, 25.0, p95_32=140.0))
    assert report["passed"], {k: g for k, g in report["gates"].items() if not g["ok"]}
    assert "share_of_nlu_ceiling" not in report["gates"]
    assert report["durable"]["ratio_vs_stock"] == 5.4  # the smaller of 6.5 (8 users) and 5.4 (32)
    assert report["durable"]["ratio_vs_stock_by_users"] == {"8": 6.5, "32": 5.4}
    assert report["durable"]["p95_ms"] == 140.0 and report["durable"]["lost_turns"] == 0
    assert report["long_conversation"]["turn_cost_ratio"] == 1.2
    assert report["soak"]["rss_growth_mb_per_10k_conversations"] == 4.0


def test_summary_misses_each_new_gate_on_its_own() -> None:
    from bench.run import summarise

    ours, stock = _memory()
    ranker = {"entry_ranker_cpu_ms_per_message": 1.0}
    # 4.9 × stock at 32 users only
    gates = summarise(ours, stock, ranker, _durable(130.0, 122.5, 20.0, 25.0, p95_32=140.0))["gates"]
    assert [k for k, g in gates.items() if not g["ok"] and not g.get("skipped")] == ["durable_vs_stock_32_users"]
    gates = summarise(ours, stock, ranker, _durable(130.0, 135.0, 20.0, 25.0, p95_32=150.1))["gates"]
    assert [k for k, g in gates.items() if not g["ok"] and not g.get("skipped")] == ["durable_p95_ms"]
    gates = summarise(ours, stock, ranker, _durable(130.0, 135.0, 20.0, 25.0, p95_32=140.0, lost=1))["gates"]
    assert [k for k, g in gates.items() if not g["ok"] and not g.get("skipped")] == ["durable_lost_turns"]
    durable = _durable(130.0, 135.0, 20.0, 25.0, p95_32=140.0)
    durable["long_conversation"]["turn_cost_ratio"] = 1.51
    durable["soak"]["rss_growth_mb_per_10k_conversations"] = 10.5
    report = summarise(ours, stock, ranker, durable)
    assert not report["passed"]
    assert sorted(k for k, g in report["gates"].items() if not g["ok"] and not g.get("skipped")) == [
        "long_conversation_turn_cost_ratio", "soak_rss_growth_mb_per_10k"]


def test_the_flood_gate_is_a_second_users_p95_of_200_ms() -> None:
    from bench.run import summarise

    ours, stock = _memory()
    ranker = {"entry_ranker_cpu_ms_per_message": 1.0}
    gates = summarise(ours, stock, ranker)["gates"]
    assert gates["flood_second_user_p95_ms"].get("skipped")  # not measured: not a pass
    for p95, ok in ((171.0, True), (200.1, False)):
        flood = {"second_user_during_flood": {"p95_ms": p95}}
        report = summarise(ours, stock, ranker, flood=flood)
        assert report["gates"]["flood_second_user_p95_ms"]["ok"] is ok
        assert report["flood"] == flood
    refused = {"second_user_during_flood": {"p95_ms": 50.0, "statuses": {"200": 300, "429": 7}}}
    assert not summarise(ours, stock, ranker, flood=refused)["gates"]["flood_second_user_p95_ms"]["ok"]


def test_in_memory_gates_are_three_times_stock_and_p95_100_ms() -> None:
    from bench.run import summarise

    ours, stock = _memory(tput=134.0, stock=45.0, p95=100.0)  # 2.98 × stock
    gates = summarise(ours, stock, {"entry_ranker_cpu_ms_per_message": 1.0})["gates"]
    assert not gates["throughput_vs_stock"]["ok"] and gates["throughput_vs_stock"]["min"] == 3.0
    assert gates["p95_ms"]["ok"]
    ours, stock = _memory(tput=150.0, stock=45.0, p95=100.1)
    gates = summarise(ours, stock, {"entry_ranker_cpu_ms_per_message": 1.0})["gates"]
    assert gates["throughput_vs_stock"]["ok"] and not gates["p95_ms"]["ok"]


def test_skipped_sections_are_skipped_gates_not_passes_or_misses() -> None:
    from bench.run import summarise

    ours, stock = _memory()
    report = summarise(ours, stock, {"entry_ranker_cpu_ms_per_message": 1.0})  # --no-durable
    for name in ("durable_vs_stock_8_users", "durable_vs_stock_32_users", "durable_p95_ms",
                 "durable_lost_turns", "long_conversation_turn_cost_ratio", "soak_rss_growth_mb_per_10k"):
        assert report["gates"][name]["skipped"] and not report["gates"][name]["ok"], name
    assert report["passed"] and "durable" not in report
    durable = _durable(130.0, 135.0, 20.0, 25.0, p95_32=140.0)
    del durable["soak"]
    durable["long_conversation"]["errors"] = 2
    report = summarise(ours, stock, {"entry_ranker_cpu_ms_per_message": 1.0}, durable)
    assert report["gates"]["soak_rss_growth_mb_per_10k"].get("skipped")
    assert not report["gates"]["errors"]["ok"] and report["errors_by_section"]["long_conversation"] == 2


def test_turn_accounting_counts_lost_and_duplicated_messages_per_sender_and_text() -> None:
    from collections import Counter

    from bench.run import Acks, turn_accounting

    acks = Acks()
    acks.add({"a": {"sent": ["hi", "dose?"], "acked": ["hi", "dose?"]},
              "b": {"sent": ["hi", "bye"], "acked": ["hi"]},  # "bye" timed out: not acknowledged
              "c": {"sent": ["x", "x", "y"], "acked": ["x", "x", "y"]}})
    acks.add({"a": {"sent": ["thanks"], "acked": ["thanks"]}})  # a second run, same sender
    stored = {"a": Counter({"hi": 1, "dose?": 1, "thanks": 1}),
              "b": Counter({"hi": 1, "bye": 1}),  # processed although the reply was lost: fine
              "c": Counter({"x": 1, "y": 2}),  # one "x" lost and one "y" stored twice: both count
              "someone-else": Counter({"hi": 5})}  # not a load-generator sender: ignored
    counts = turn_accounting(acks, stored)
    assert counts["lost_turns"] == 1 and counts["duplicate_turns"] == 1
    assert counts["senders_with_lost_turns"] == 1
    assert counts["acknowledged_turns"] == 7 and counts["sent_turns"] == 8 and counts["stored_turns"] == 8
    stored["c"]["x"] = 2
    stored["c"]["y"] = 1
    assert turn_accounting(acks, stored)["lost_turns"] == 0
    assert turn_accounting(acks, {})["lost_turns"] == 7


def test_long_conversation_ratio_compares_the_same_length_windows() -> None:
    from bench.run import long_summary

    latencies = [10.0] * 500
    cpu = [5.0] * 500
    flat = long_summary(latencies, cpu)
    assert flat["early_turns"] == [3, 12] and flat["late_turns"] == [491, 500]
    assert flat["latency_ratio"] == 1.0 and flat["cpu_ratio"] == 1.0 and flat["turn_cost_ratio"] == 1.0
    # Cost growing with the conversation's length: latency ×2 at the end, CPU ×1.6.
    latencies = [10.0 + 10.0 * i / 499 for i in range(500)]
    cpu = [5.0 + 3.0 * i / 499 for i in range(500)]
    grown = long_summary(latencies, cpu)
    assert 1.95 < grown["latency_ratio"] < 1.98 and 1.55 < grown["cpu_ratio"] < 1.6
    assert grown["turn_cost_ratio"] == grown["latency_ratio"]
    # Turns 1-2 (a new conversation's first turns) are outside the early window.
    spiky = long_summary([500.0, 500.0] + [10.0] * 498, [50.0, 50.0] + [5.0] * 498)
    assert spiky["turn_cost_ratio"] == 1.0
    # A median ignores one slow turn; the CPU sum does not hide it.
    one_slow = [10.0] * 500
    one_slow[495] = 400.0
    cpu = [5.0] * 500
    cpu[495] = 55.0
    slow = long_summary(one_slow, cpu)
    assert slow["latency_ratio"] == 1.0 and slow["cpu_ratio"] == 2.0 and slow["turn_cost_ratio"] == 2.0


def test_soak_growth_is_scaled_to_10k_conversations() -> None:
    from bench.run import soak_summary

    flat = soak_summary([(0, 1400.0), (2000, 1401.0), (4000, 1399.5), (6000, 1400.5)])
    assert flat["conversations"] == 6000 and flat["rss_growth_mb"] == 0.5
    assert flat["rss_growth_mb_per_10k_conversations"] == round(0.5 * 10_000 / 6000, 2)
    leak = soak_summary([(0, 1400.0), (2500, 1405.0), (5000, 1410.0)])  # 2 kB per conversation
    assert leak["rss_growth_mb_per_10k_conversations"] == 20.0
    assert leak["rss_slope_mb_per_10k_conversations"] == 20.0
    assert soak_summary([(0, 1400.0), (0, 1500.0)])["rss_growth_mb_per_10k_conversations"] is None


def test_memory_endpoints_are_the_products_without_the_tracker_store() -> None:
    import yaml

    from scripts.stack import ROOT

    product = yaml.safe_load((ROOT / "bot" / "endpoints.yml").read_text())
    memory = yaml.safe_load((ROOT / "bench" / "endpoints-memory.yml").read_text())
    assert "tracker_store" in product and "tracker_store" not in memory
    assert memory == {k: v for k, v in product.items() if k != "tracker_store"}


def test_stock_durable_endpoints_name_rasas_own_sql_and_redis_stores() -> None:
    import yaml

    from bench.servers import database_name, stock_endpoints_yaml

    config = yaml.safe_load(stock_endpoints_yaml(5433, "bench_stock_1", 6380))
    assert config["tracker_store"] == {"type": "sql", "dialect": "postgresql", "url": "127.0.0.1",
                                       "port": 5433, "db": "bench_stock_1", "username": "postgres"}
    assert config["lock_store"] == {"type": "redis", "url": "127.0.0.1", "port": 6380, "db": 2}
    assert database_name("postgresql+psycopg2://postgres@127.0.0.1:5433/bench_ours_ab12") == "bench_ours_ab12"
    assert "action_endpoint" not in config
    config = yaml.safe_load(stock_endpoints_yaml(5433, "bench_stock_1", 6380, "http://127.0.0.1:5066/webhook"))
    assert config["action_endpoint"] == {"url": "http://127.0.0.1:5066/webhook"}
    assert config["lock_store"]["type"] == "redis" and config["tracker_store"]["type"] == "sql"


def _rasa_init_template() -> "Path":
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("rasa")  # without importing Rasa
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "cli" / "initial_project"


def test_stock_with_actions_replies_with_custom_actions_that_send_the_stock_texts(tmp_path) -> None:
    """The durable baseline: `rasa init`'s project, every reply step a custom action that
    dispatches what the response it replaces says."""
    import importlib.util

    import yaml
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from bench.servers import stock_action_name, stock_with_actions

    template = _rasa_init_template()
    names = stock_with_actions(template, tmp_path / "p")
    project = tmp_path / "p"
    stock_domain = yaml.safe_load((template / "domain.yml").read_text())
    domain = yaml.safe_load((project / "domain.yml").read_text())
    assert "action_greet_back" in names and domain["actions"] == names
    assert domain["responses"] == stock_domain["responses"] and domain["intents"] == stock_domain["intents"]
    steps_before: list = []
    steps_after: list = []
    for name in ("rules.yml", "stories.yml"):
        before = yaml.safe_load((template / "data" / name).read_text())
        after = yaml.safe_load((project / "data" / name).read_text())
        for b, a in zip(before.get("rules") or before["stories"], after.get("rules") or after["stories"]):
            steps_before += b["steps"]
            steps_after += a["steps"]
    assert len(steps_before) == len(steps_after) and any("action" in s for s in steps_before)
    for b, a in zip(steps_before, steps_after):  # the same steps, each reply its custom action
        if "action" in b:
            assert b["action"].startswith("utter_") and a == {"action": stock_action_name(b["action"])}
        else:
            assert a == b
    assert (project / "data" / "nlu.yml").read_text() == (template / "data" / "nlu.yml").read_text()
    spec = importlib.util.spec_from_file_location("bench_stock_actions", project / "actions" / "actions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from rasa_sdk import Action

    classes = [c for c in vars(module).values()
               if isinstance(c, type) and issubclass(c, Action) and c.__module__ == "bench_stock_actions"]
    actions = {a.name(): a for a in (c() for c in classes)}
    assert sorted(actions) == sorted(names)
    tracker = Tracker("s", {}, {}, [], False, None, {}, "")
    for response, variations in stock_domain["responses"].items():
        dispatcher = CollectingDispatcher()
        assert actions[stock_action_name(response)].run(dispatcher, tracker, {}) == []
        assert len(dispatcher.messages) == 1
        sent = dispatcher.messages[0]
        assert sent["text"] == variations[0]["text"] and sent["image"] == variations[0].get("image")


def test_stock_action_names() -> None:
    import pytest

    from bench.servers import stock_action_name

    assert stock_action_name("utter_greet") == "action_greet_back"
    assert stock_action_name("utter_iamabot") == "action_iamabot"
    with pytest.raises(ValueError):
        stock_action_name("action_listen")


def test_summary_labels_which_stock_each_section_compares_with() -> None:
    from bench.run import summarise
    from bench.servers import STOCK_VARIANT_DURABLE, STOCK_VARIANT_DURABLE_RESPONSES, STOCK_VARIANT_MEMORY

    ours, stock = _memory()
    stock["variant"] = STOCK_VARIANT_MEMORY
    durable = _durable(130.0, 135.0, 20.0, 25.0, p95_32=140.0)
    durable["stock"]["variant"] = STOCK_VARIANT_DURABLE
    report = summarise(ours, stock, {"entry_ranker_cpu_ms_per_message": 1.0}, durable)
    assert report["stock_variant"] == STOCK_VARIANT_MEMORY
    assert report["durable"]["stock_variant"] == STOCK_VARIANT_DURABLE
    assert "custom actions" in STOCK_VARIANT_DURABLE and "responses only" in STOCK_VARIANT_MEMORY
    # Results made before the label (--stock-from) were responses-only in both sections.
    del stock["variant"], durable["stock"]["variant"]
    report = summarise(ours, stock, {"entry_ranker_cpu_ms_per_message": 1.0}, durable)
    assert report["stock_variant"] == STOCK_VARIANT_MEMORY
    assert report["durable"]["stock_variant"] == STOCK_VARIANT_DURABLE_RESPONSES
    del durable["stock"]
    report = summarise(ours, None, {"entry_ranker_cpu_ms_per_message": 1.0}, durable)
    assert report["stock_variant"] is None and report["durable"]["stock_variant"] is None


def test_durable_cpu_per_message_counts_stocks_action_server_beside_its_rasa() -> None:
    from bench.run import summarise

    ours, stock = _memory()
    durable = _durable(130.0, 135.0, 20.0, 25.0, p95_32=140.0)
    for level in durable["stock"]["levels"].values():
        level["cpu_ms_per_request"] = {"stock action server": 4.0, "stock Rasa server": 30.0, "postgres": 1.5}
    cpu = summarise(ours, stock, {"entry_ranker_cpu_ms_per_message": 1.0}, durable)["durable"]["server_cpu_ms_per_message"]
    assert cpu["32"]["stock"] == 35.5 and cpu["32"]["stock_by_process"]["stock action server"] == 4.0


def test_load_soak_mode_holds_short_new_conversations_and_records_acks() -> None:
    good = [{"text": f"{EMERGENCY_MARK} advice"}, {"text": f"{DISCLAIMER_MARK} contact your clinician"}]

    async def go() -> dict:
        port = free_port()
        runner = await _serve(good, port)
        try:
            return await run_load(f"http://127.0.0.1:{port}", users=3, duration=30.0, mix="ours",
                                  mode="rest", max_requests=10000, timeout=5.0, seed=1,
                                  conversations=25, max_turns=2, acks=True)
        finally:
            await runner.cleanup()
    result = asyncio.run(go())
    acks = result["acks"]
    assert result["conversations"] == 25 and len(acks) == 25  # one new sender per conversation
    turns = [len(a["sent"]) for a in acks.values()]
    assert set(turns) <= {1, 2} and 1 in turns and 2 in turns
    assert sum(turns) == result["requests"]
    assert all(a["sent"] == a["acked"] for a in acks.values())
    firsts = {c[0].text for c in OURS}
    assert all(a["sent"][0] in firsts for a in acks.values())


def test_task_cpu_ns_times_a_busy_thread_finer_than_ticks() -> None:
    import threading

    me = os.getpid()
    busy, stop = threading.Event(), threading.Event()

    def spin_then_wait() -> None:  # stays alive while measured: only live threads count
        end = time.thread_time() + 0.03  # 30 ms of this thread's CPU, however busy the machine
        while time.thread_time() < end:
            pass
        busy.set()
        stop.wait(5)
    thread = threading.Thread(target=spin_then_wait)
    before = procs.task_cpu_ns(me)
    thread.start()
    busy.wait(5)
    spent = procs.task_cpu_ns(me) - before
    stop.set()
    thread.join()
    assert 25e6 <= spent < 2e9, spent  # the 30 ms spin, in nanoseconds
    assert procs.tree_cpu_ns(me) >= procs.task_cpu_ns(me) > 0
    assert procs.task_cpu_ns(2**22 + 12345) == 0  # no such process


def test_soak_reads_memory_after_each_chunk_and_stops_early_on_a_slow_machine(monkeypatch) -> None:
    import bench.run as run

    rss = iter([1000, 1001, 1002, 1003, 1004, 1005, 1006] * 1)
    calls: List[dict] = []

    def fake_drive(url: str, users: int, duration: float, mix: str, **kw: object) -> dict:
        calls.append(kw)
        n = kw["conversations"]
        return {"conversations": n, "errors": 0, "error_kinds": {}, "error_examples": [],
                "requests": int(n) * 3 // 2, "duration_s": 10.0, "throughput_per_s": 150.0}

    monkeypatch.setattr(run, "drive", fake_drive)
    monkeypatch.setattr(run, "roots", lambda stack: {"Rasa server": 1, "action server": 2, "postgres": 3})
    monkeypatch.setattr(run.procs, "rss_now", lambda pids: {"x": next(rss) * 2**20} if set(pids) == {
        "Rasa server", "action server"} else {})
    monkeypatch.setattr(run.time, "sleep", lambda s: None)

    class Stack:
        rasa_url = "http://127.0.0.1:1"

    out = run.soak(Stack(), 10_000, run.Acks(), seconds=3600)
    assert calls[0]["conversations"] == run.SOAK_WARMUP and len(calls) == 6  # warm-up + 5 × 2,000
    assert all(c["max_turns"] == 2 for c in calls)
    assert out["conversations"] == 10_000 and out["rss_growth_mb_per_10k_conversations"] == 5.0
    rss = iter([1000, 1001, 1002, 1003])
    calls.clear()
    out = run.soak(Stack(), 10_000, run.Acks(), seconds=0.0)  # out of time at once: the minimum 2 chunks
    assert len(calls) == 1 + run.SOAK_MIN_CHUNKS and out["conversations"] == 4000
    assert out["rss_growth_mb_per_10k_conversations"] == 5.0  # 2 MB in 4,000, scaled
