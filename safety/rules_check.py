"""Check the triage rule files (safety/rules/): `make build` runs this before training.

    python -m safety.rules_check [--rules DIR]

Prints every problem as `file:line: message` and exits 1 when there is any; otherwise
prints a one-line summary (and notes, e.g. a concept no rule uses) and exits 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from safety.rule_files import RULES_DIR, check


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m safety.rules_check", description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=Path, default=RULES_DIR, help="folder with words.yml, concepts.yml, kinds.yml")
    args = parser.parse_args(argv)
    rules, problems = check(args.rules)
    if rules is None:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"triage rules not valid: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    for name in rules.unused:
        print(f"{rules.concepts[name].where}: note: concept {name} is not used by any rule in kinds.yml "
              "(nor marked sign: true), so it changes nothing")
    patterns = sum(len(c.patterns) + len(c.excludes) for c in (*rules.concepts.values(), *rules.cues.values()))
    pending = sum(1 for rule in rules.rules if "pending" in rule.reviewer.lower())
    print(f"triage rules OK: {len(rules.rules)} rules for {len(rules.priority)} kinds, {len(rules.concepts)} "
          f"concepts, {patterns} patterns, {len(rules.classes)} word classes"
          + (f"; {pending} of {len(rules.rules)} rules still await clinical review" if pending else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
