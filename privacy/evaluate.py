"""Recall and over-redaction of a redaction backend on the labelled set (docs/privacy.md).

    .venv/bin/python -m privacy.evaluate            # both backends, with misses listed

recall:          personal spans wholly replaced / all personal spans
over-redaction:  medical details and ordinary words ("keep" spans) touched / all keep spans
clean-altered:   messages with no personal data that were changed at all / such messages
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import yaml

from privacy.redact import Span, find

ROOT = Path(__file__).resolve().parent.parent
SET = ROOT / "tests" / "privacy" / "redaction_set.yml"
Finder = Callable[[str], Sequence[Span]]


@dataclass
class Result:
    recall: float
    over_redaction: float
    clean_altered: float
    ms_per_message: float
    misses: List[str] = field(default_factory=list)
    damaged: List[str] = field(default_factory=list)


def load_set(path: Path = SET) -> List[Dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["messages"]


def _covered(spans: Sequence[Span], start: int, end: int) -> bool:
    covered = [False] * (end - start)
    for s in spans:
        for i in range(max(s.start, start), min(s.end, end)):
            covered[i - start] = True
    return all(covered)


def _touched(spans: Sequence[Span], start: int, end: int) -> bool:
    return any(s.start < end and start < s.end for s in spans)


def evaluate(finder: Finder = find, messages: Sequence[Dict] = ()) -> Result:
    messages = messages or load_set()
    pii = caught = keep = damaged = clean = clean_changed = 0
    misses: List[str] = []
    harmed: List[str] = []
    t0 = time.perf_counter()
    found = [list(finder(m["text"])) for m in messages]
    elapsed = time.perf_counter() - t0
    for m, spans in zip(messages, found):
        text = m["text"]
        for kind, values in (m.get("pii") or {}).items():
            for value in values:
                start = text.index(value)
                pii += 1
                if _covered(spans, start, start + len(value)):
                    caught += 1
                else:
                    misses.append(f"{kind} {value!r} in {text!r}")
        for value in m.get("keep") or []:
            start = text.index(value)
            keep += 1
            if _touched(spans, start, start + len(value)):
                damaged += 1
                harmed.append(f"{value!r} in {text!r}")
        if not m.get("pii"):
            clean += 1
            clean_changed += bool(spans)
    return Result(recall=caught / pii, over_redaction=damaged / keep, clean_altered=clean_changed / clean,
                  ms_per_message=1000 * elapsed / len(messages), misses=misses, damaged=harmed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quiet", action="store_true", help="figures only, no misses")
    args = parser.parse_args()
    from privacy import presidio_backend
    backends = {"patterns (privacy/redact.py)": find,
                "presidio + our names/addresses": presidio_backend.find,
                "presidio only": presidio_backend.find_presidio_only}
    for name, finder in backends.items():
        finder("warm up: call 07700 900123, Dr Patel")
        r = evaluate(finder)
        figures = {k: round(v, 4) for k, v in vars(r).items() if isinstance(v, float)}
        print(name, json.dumps(figures))
        if not args.quiet:
            for line in r.misses:
                print("  missed  ", line)
            for line in r.damaged:
                print("  damaged ", line)


if __name__ == "__main__":
    main()
