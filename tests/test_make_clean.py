"""`make clean` removes every build output and cache, so nothing stale survives it.

Rasa keeps trained pipeline nodes in a cache (RASA_CACHE_DIRECTORY, set by
scripts/common.sh to build/rasa-cache; `.rasa/cache` is Rasa's own default when a
command runs without our scripts). A stale cache once served a classifier of the old
width after a lexicon change, and `make clean` did not remove it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from stack import ROOT

OUTPUTS = ["build/rasa-cache/cache.db", "build/knowledge.db", ".rasa/cache/x", "models/baclofen.tar.gz",
           "results/stories/x", "test-results/x", ".pytest_cache/x", "bench/results/latest.json"]
KEPT = ["knowledge/content/x.yml", "data/nlu/x.yml"]


def test_make_clean_removes_every_cache_and_output(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for name in OUTPUTS + KEPT:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    subprocess.run(["make", "clean"], cwd=tmp_path, check=True, capture_output=True)
    assert [n for n in OUTPUTS if (tmp_path / n).exists()] == []
    assert all((tmp_path / n).exists() for n in KEPT)


def test_the_scripts_keep_rasas_cache_under_build() -> None:
    common = (ROOT / "scripts" / "common.sh").read_text()
    assert 'RASA_CACHE_DIRECTORY="${RASA_CACHE_DIRECTORY:-$ROOT/build/rasa-cache}"' in common
