"""Measure the answers on the consumer-phrasing sets, and gate on the test set.

    .venv/bin/python scripts/answer_gate.py [--set test|dev|both] [--url REST_URL] [--no-gate] [--show wrong,clarified]

Each item of tests/answers/consumer_<set>.yml is a message (or a short conversation whose
last turn is scored) written the way patients and carers write, labelled with the
knowledge entries that answer it, or `clarify`, `out_of_scope` or `no_information`.
The sets were written before the answer ranker was tuned and are kept apart from the
training data; only the dev set is used for tuning. Every message is sent over REST to
the real stack (started here unless --url is given) and the reply is read the way a
person reads it:

- right: everything shown is in the label (for a two-part question, both parts answered);
- clarified: the bot asked which answer was meant (or to rephrase) instead of guessing;
- wrong: the reply showed a knowledge entry outside the label — a confident wrong answer;
- missed: anything else (out of scope, emergency advice or no answer where one was due).

It prints right / clarified / wrong / missed per topic and in total, and whether the target
(at least 90 % right, at most 3 % wrong) is met. The gate (test set) is the floor in GATES:
exit code 1 below it.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
SETS = {"test": ROOT / "tests/answers/consumer_test.yml", "dev": ROOT / "tests/answers/consumer_dev.yml"}
# The product's target (issue 13) and what `make test` enforces today. The target is not met
# yet (README "Answer selection"), so the gate holds the measured level as a floor: a change
# that answers fewer test questions right, or more of them wrongly, fails the suite.
TARGET = {"right": 0.90, "wrong": 0.03}
GATES = {"right": 0.62, "wrong": 0.13}  # measured 63.3 % right, 12.4 % wrong on 1 Dec 2026
OUTCOMES = ("clarify", "out_of_scope", "no_information")
OUT_OF_SCOPE_START = "Sorry, I can only answer questions about baclofen"
NO_INFORMATION = "Our sources list no interaction information for"
# Entries a topic's answers always carry (actions.ALWAYS_INCLUDED): never counted as wrong.
COMPANIONS = {"overdose-what-to-do"}

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    turns: Tuple[str, ...]
    parts: Tuple[Tuple[str, ...], ...]  # one tuple per question asked; each: what is acceptable
    answer: str = ""

    @property
    def acceptable(self) -> Set[str]:
        return {x for part in self.parts for x in part}

    @property
    def topic(self) -> str:
        return self.parts[0][0] if self.parts and self.parts[0] else "?"


@dataclass
class Result:
    item: Item
    verdict: str  # right, clarified, wrong, missed
    shown: List[str]
    outcome: str
    reply: str
    topic: str = ""


class SetError(ValueError):
    """A set file does not follow the format; the message says where."""


def load_set(path: Path, known: Optional[Set[str]] = None) -> List[Item]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = []
    for raw in data.get("items") or []:
        where = f"{path.name} item {raw.get('id')!r}"
        turns = raw.get("turns")
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t.strip() for t in turns):
            raise SetError(f"{where}: turns must be a non-empty list of messages")
        if "parts" in raw:
            parts = tuple(tuple(p) for p in raw["parts"])
        elif "expect" in raw:
            parts = (tuple(raw["expect"]),)
        else:
            raise SetError(f"{where}: needs `expect` (or `parts` for a two-part question)")
        for label in (x for p in parts for x in p):
            if label not in OUTCOMES and known is not None and label not in known:
                raise SetError(f"{where}: {label!r} is neither an entry id nor one of {OUTCOMES}")
        items.append(Item(str(raw["id"]), str(raw.get("kind", "")), tuple(turns), parts, str(raw.get("answer", ""))))
    return items


# ------------------------------------------------------------------ reading a reply


def _squash(text: str) -> str:
    return " ".join(text.split())


def read_reply(messages: Sequence[dict], entry_texts: Dict[str, str]) -> Tuple[List[str], str]:
    """(entry ids shown, outcome) of a reply, as a person sees it."""
    joined = _squash("\n".join(str(m.get("text") or "") for m in messages))
    shown = [i for i, t in entry_texts.items() if t and t in joined]
    first = str(messages[0].get("text") or "") if messages else ""
    if first.lstrip().startswith("🚨"):
        outcome = "emergency"
    elif any(m.get("buttons") for m in messages) and not shown:
        outcome = "clarify"
    elif "didn't understand" in joined and not shown:
        outcome = "clarify"
    elif joined.startswith(OUT_OF_SCOPE_START):
        outcome = "out_of_scope"
    elif NO_INFORMATION in joined and not shown:
        outcome = "no_information"
    elif shown:
        outcome = "answer"
    else:
        outcome = "other"
    return shown, outcome


def judge(item: Item, shown: Sequence[str], outcome: str) -> str:
    acceptable = item.acceptable
    if outcome == "emergency":
        return "missed" if not set(shown) & acceptable else "right" if set(shown) <= acceptable | COMPANIONS else "wrong"
    if shown:
        if not set(shown) <= acceptable | COMPANIONS:
            return "wrong"
        answered = sum(1 for part in item.parts if set(part) & set(shown))
        return "right" if answered == len(item.parts) else "clarified"
    if outcome in acceptable:
        return "right"
    if outcome == "no_information" and any(x.startswith("interactions") for x in acceptable):
        return "missed"
    return "clarified" if outcome == "clarify" else "missed"


# ------------------------------------------------------------------ running


def entry_texts() -> Dict[str, str]:
    from knowledge import store

    store.reset()
    return {e.id: _squash(e.text) for e in store.answerable()}


def send(url: str, sender: str, text: str) -> List[dict]:
    response = requests.post(url, json={"sender": sender, "message": text}, timeout=60)
    response.raise_for_status()
    return response.json()


def evaluate(items: Iterable[Item], url: str, texts: Dict[str, str]) -> List[Result]:
    results = []
    for item in items:
        sender = f"gate-{item.id}-{uuid.uuid4().hex[:8]}"
        reply: List[dict] = []
        for turn in item.turns:
            reply = send(url, sender, turn)
        shown, outcome = read_reply(reply, texts)
        joined = "\n".join(str(m.get("text") or "") for m in reply)
        results.append(Result(item, judge(item, shown, outcome), shown, outcome, joined))
    return results


def topic_of(label: str, topics: Dict[str, str]) -> str:
    return topics.get(label, label)


def summary(results: Sequence[Result], topics: Dict[str, str], by: str = "topic") -> Dict[str, Dict[str, int]]:
    """Verdict counts per topic of the label (by="topic") or per kind of message (by="kind")."""
    table: Dict[str, Counter] = defaultdict(Counter)
    for r in results:
        key = topic_of(r.item.topic, topics) if by == "topic" else r.item.kind
        table[key][r.verdict] += 1
        table["ALL"][r.verdict] += 1
    return {k: dict(v) for k, v in table.items()}


def print_table(name: str, table: Dict[str, Dict[str, int]], by: str = "topic") -> None:
    cols = ("right", "clarified", "wrong", "missed")
    print(f"\n{name}: {by:16} " + " ".join(f"{c:>9}" for c in cols) + "      n")
    for topic in sorted(table, key=lambda t: (t == "ALL", t)):
        row = table[topic]
        n = sum(row.values())
        print(f"{'':{len(name)}}  {topic:16} " + " ".join(f"{row.get(c, 0):9d}" for c in cols) + f" {n:6d}")
    total = table.get("ALL", {})
    n = sum(total.values()) or 1
    print(f"{'':{len(name)}}  shares: " + ", ".join(f"{c} {total.get(c, 0) / n:.1%}" for c in cols))


def figures(results: Sequence[Result]) -> Dict[str, float]:
    n = len(results) or 1
    counts = Counter(r.verdict for r in results)
    return {v: round(counts.get(v, 0) / n, 4) for v in ("right", "clarified", "wrong", "missed")} | {"n": len(results)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=["test", "dev", "both"], default="test")
    ap.add_argument("--url", help="REST webhook of a running stack (default: start one)")
    ap.add_argument("--no-gate", action="store_true")
    ap.add_argument("--show", default="", help="comma-separated verdicts whose items to print")
    ap.add_argument("--json", type=Path, help="write every result here")
    args = ap.parse_args(argv)
    texts = entry_texts()
    from knowledge import store
    topics = {e.id: e.topic for e in store.answerable()}
    names = ["dev", "test"] if args.set == "both" else [args.set]
    from stack import rest_webhook  # scripts/stack.py
    failed = False
    with rest_webhook(args.url) as url:
        dump = {}
        for name in names:
            items = load_set(SETS[name], set(texts))
            results = evaluate(items, url, texts)
            print_table(name, summary(results, topics))
            print_table(name, summary(results, topics, by="kind"), by="kind")
            shown = {s for s in args.show.split(",") if s}
            for r in results:
                if r.verdict in shown:
                    print(f"\n[{r.verdict}] {r.item.id} {r.item.kind}: {' | '.join(r.item.turns)}\n"
                          f"   expected {[list(p) for p in r.item.parts]}; got {r.outcome} {r.shown}\n"
                          f"   note: {r.item.answer}")
            result = figures(results)
            print(f"{name} figures: {json.dumps(result)}")
            dump[name] = [{"id": r.item.id, "verdict": r.verdict, "shown": r.shown, "outcome": r.outcome}
                          for r in results]
            if name == "test":
                met = result["right"] >= TARGET["right"] and result["wrong"] <= TARGET["wrong"]
                print(f"target: at least {TARGET['right']:.0%} right and at most {TARGET['wrong']:.0%} wrong: "
                      + ("met" if met else "NOT MET"))
            if name == "test" and not args.no_gate:
                problems = []
                if result["right"] < GATES["right"]:
                    problems.append(f"right {result['right']:.1%} < floor {GATES['right']:.0%}")
                if result["wrong"] > GATES["wrong"]:
                    problems.append(f"wrong {result['wrong']:.1%} > ceiling {GATES['wrong']:.0%}")
                if problems:
                    print("ANSWER GATE FAILED: " + "; ".join(problems))
                    failed = True
                else:
                    print(f"answer gate passed (floor: {GATES['right']:.0%} right, ceiling: {GATES['wrong']:.0%} wrong)")
        if args.json:
            args.json.write_text(json.dumps(dump, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "scripts"))
    sys.exit(main())
