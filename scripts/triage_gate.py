"""Measure triage on the independent triage set: emergencies in people's own words.

    .venv/bin/python scripts/triage_gate.py [--url REST_URL] [--show missed,alarm] [--gate]

tests/triage/triage_set.yml was written before the triage rules were changed and is
never tuned against. Each item is a message (or a short conversation whose last turn is
scored) labelled emergent, conditional or non_emergent. Every message is sent over REST
to the real stack (started here unless --url is given) and the reply to the last turn
is read as a person reads it:

- emergent: the reply must open with emergency advice (🚨). Recall = opened / emergent.
- non_emergent: opening with emergency advice is an alarm. Alarm rate = alarms / items.
- conditional ("what should I watch for?"): the warning signs with when to call 911,
  without opening as an emergency. Printed: how many opened as an emergency, and how
  many mention 911 or the emergency department.

Prints the figures per kind and in total, and one JSON line. With --gate (the target of
issue 14): exit 1 below 100 % recall or above 3 % alarms. With --floor (what make test
runs until the target is met): exit 1 below the measured level in FLOOR.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
SET = ROOT / "tests/triage/triage_set.yml"
LEVELS = ("emergent", "conditional", "non_emergent")
TARGET = {"recall": 1.0, "alarm_rate": 0.03}
# What `make test` enforces until the target is met: the measured level as a floor, so a
# change that misses more emergencies or raises more alarms fails the suite.
FLOOR = {"recall": 0.91, "alarm_rate": 0.085}  # measured 92.2 % and 7.6 % on 2 Dec 2026 (rules + net; 86.7 % and 9.1 % on 1 Dec)
WHEN_TO_CALL = ("911", "emergency department", "emergency room", "A&E", "988")

for path in (ROOT, ROOT / "scripts"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from actions.compose import EMERGENCY_MARK  # noqa: E402
from answer_gate import send  # noqa: E402  (scripts/answer_gate.py: one REST turn)
from stack import rest_webhook  # noqa: E402  (scripts/stack.py)


@dataclass(frozen=True)
class Item:
    id: str
    level: str
    kind: str
    turns: Tuple[str, ...]


@dataclass(frozen=True)
class Result:
    item: Item
    opened_as_emergency: bool
    says_when_to_call: bool
    reply: str


def load_set(path: Path = SET) -> List[Item]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = []
    for i, entry in enumerate(raw.get("items") or []):
        where = f"{path.name} item {i + 1}"
        if entry.get("level") not in LEVELS:
            raise ValueError(f"{where}: level must be one of {LEVELS}")
        turns = entry.get("turns")
        if not turns or not all(isinstance(t, str) and t.strip() for t in turns):
            raise ValueError(f"{where}: turns must be non-empty strings")
        items.append(Item(str(entry["id"]), entry["level"], str(entry.get("kind") or "-"), tuple(turns)))
    return items


def evaluate(items: Sequence[Item], url: str) -> List[Result]:
    results = []
    for item in items:
        sender = f"triage-{item.id}-{uuid.uuid4().hex[:8]}"
        reply: List[dict] = []
        for turn in item.turns:
            reply = send(url, sender, turn)
        texts = [str(m.get("text") or "") for m in reply]
        joined = "\n".join(texts)
        opened = bool(texts) and texts[0].lstrip().startswith(EMERGENCY_MARK)
        results.append(Result(item, opened, any(w.lower() in joined.lower() for w in WHEN_TO_CALL), joined))
    return results


def figures(results: Sequence[Result]) -> Dict[str, object]:
    by_level: Dict[str, List[Result]] = defaultdict(list)
    for r in results:
        by_level[r.item.level].append(r)
    emergent, non, cond = by_level["emergent"], by_level["non_emergent"], by_level["conditional"]
    return {
        "emergent": len(emergent), "non_emergent": len(non), "conditional": len(cond),
        "recall": round(sum(r.opened_as_emergency for r in emergent) / (len(emergent) or 1), 4),
        "alarm_rate": round(sum(r.opened_as_emergency for r in non) / (len(non) or 1), 4),
        "conditional_opened_as_emergency": round(sum(r.opened_as_emergency for r in cond) / (len(cond) or 1), 4),
        "conditional_says_when_to_call": round(sum(r.says_when_to_call for r in cond) / (len(cond) or 1), 4),
    }


def print_tables(results: Sequence[Result]) -> None:
    table: Dict[Tuple[str, str], Counter] = defaultdict(Counter)
    for r in results:
        row = table[(r.item.level, r.item.kind)]
        row["n"] += 1
        row["opened as emergency"] += r.opened_as_emergency
        row["says when to call"] += r.says_when_to_call
    cols = ("opened as emergency", "says when to call", "n")
    print(f"\n{'level':13} {'kind':22} " + " ".join(f"{c:>20}" for c in cols))
    for (level, kind) in sorted(table, key=lambda k: (LEVELS.index(k[0]), k[1])):
        row = table[(level, kind)]
        print(f"{level:13} {kind:22} " + " ".join(f"{row[c]:20d}" for c in cols))


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="REST webhook of a running stack (default: start one)")
    ap.add_argument("--show", default="", help="comma-separated: missed (emergent not opened as one), alarm")
    ap.add_argument("--gate", action="store_true", help="exit 1 below 100 %% recall or above 3 %% alarms")
    ap.add_argument("--floor", action="store_true", help="exit 1 below the measured floor (FLOOR; make test)")
    args = ap.parse_args(argv)
    items = load_set()
    with rest_webhook(args.url) as url:
        results = evaluate(items, url)
    print_tables(results)
    show = {s for s in args.show.split(",") if s}
    for r in results:
        missed = r.item.level == "emergent" and not r.opened_as_emergency
        alarm = r.item.level == "non_emergent" and r.opened_as_emergency
        if ("missed" in show and missed) or ("alarm" in show and alarm):
            print(f"\n[{'missed' if missed else 'alarm'}] {r.item.id} {r.item.kind}: {' | '.join(r.item.turns)}\n"
                  f"   reply: {r.reply[:200]!r}")
    result = figures(results)
    print(f"\ntriage figures: {json.dumps(result)}")
    met = result["recall"] >= TARGET["recall"] and result["alarm_rate"] <= TARGET["alarm_rate"]
    print(f"target: recall 100 % on emergent, at most 3 % alarms on non-emergent: {'met' if met else 'NOT MET'}")
    if args.floor:
        problems = ([f"recall {result['recall']:.1%} < floor {FLOOR['recall']:.0%}"] if result["recall"] < FLOOR["recall"] else []) \
            + ([f"alarms {result['alarm_rate']:.1%} > ceiling {FLOOR['alarm_rate']:.0%}"] if result["alarm_rate"] > FLOOR["alarm_rate"] else [])
        print("TRIAGE GATE FAILED: " + "; ".join(problems) if problems else
              f"triage gate passed (floor: {FLOOR['recall']:.0%} recall, ceiling: {FLOOR['alarm_rate']:.0%} alarms)")
        if problems:
            return 1
    return 1 if args.gate and not met else 0


if __name__ == "__main__":
    sys.exit(main())
