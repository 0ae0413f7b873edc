"""A learned safety net under the triage rules: emergencies the rules do not yet cover.

    python -m safety.triage_net [--out build/triage_net]     (make build runs it)

The rules (safety/rules/*.yml) decide first and alone explain what they found. But rules
written from one set of messages miss some of the next: on a batch of 199 emergencies
written by someone who never saw them, the rules of that day caught 72 %. A classifier
trained on the examples the rules were tuned on (word and character n-grams, logistic
regression over the emergency kinds and "none"), with calm symptom reports as counter-
examples, caught 8.5 % more of that batch on its own (80 % with the rules), for 1 of 80
calm look-alikes, 0 of 125 held-out calm symptom reports and 1 of 308 ordinary questions
(threshold 0.8; at 0.7 it also raised 1 of the 125).

So when the rules find nothing and the net is at least THRESHOLD sure that the message
is an emergency of some kind, the message is treated as that kind. The net can only add
emergency advice, never hold it back. It learns from reviewed data only:
- emergencies: safety/triage_examples.yml (emergent items, with their kind) and the
  `emergency` examples of data/nlu/ (kind as the rules name it, else "general");
- not emergencies: the calm and conditional items of safety/triage_examples.yml (calm
  symptom reports among them), every other NLU example and every entry question
  (build/nlu/entry_questions.yml).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import scipy.sparse
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "safety/triage_examples.yml"
NLU_DIRS = (ROOT / "data/nlu", ROOT / "build/nlu")
DEFAULT_DIR = ROOT / "build/triage_net"
NONE = "none"
THRESHOLD = 0.8  # P(some emergency): chosen on a batch the net never saw (docstring)
EMERGENCY_INTENT = "emergency"
# A kind the net may name only when the message names what it is about: a pump kind needs a
# pump ("now I have a fever" alone is no pump emergency; with a pump named the message
# before, the rules see it across the two), kidney confusion needs the kidneys.
NEEDS: Dict[str, Tuple[str, str]] = {
    "pump_withdrawal": ("form", "intrathecal"), "pump_infection": ("form", "intrathecal"),
    "pump_alarm": ("form", "intrathecal"), "kidney_confusion": ("population", "kidney"),
}
EXTRACTOR = "TriageNet"  # how its red_flag entities are marked: a rule, when one applies, says better
_ANNOTATION = re.compile(r"\[([^\]]*)\]\{[^}]*\}|\[([^\]]*)\]\([^)]*\)")


@dataclass(frozen=True)
class Example:
    text: str
    kind: str  # an emergency kind, or NONE


def _nlu_examples() -> Iterable[Tuple[str, str]]:
    """(intent, text) of every NLU example: data/nlu and the entries' questions."""
    for directory in NLU_DIRS:
        for path in sorted(directory.glob("*.yml")):
            for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
                if "intent" not in block:
                    continue
                for line in str(block.get("examples") or "").splitlines():
                    line = line.strip()
                    if line.startswith("- "):
                        yield block["intent"], _ANNOTATION.sub(lambda m: m.group(1) or m.group(2), line[2:])


def training_examples(kind_of=None) -> List[Example]:  # type: ignore[no-untyped-def]
    """The reviewed examples; `kind_of(text)` names a kind for an NLU emergency example."""
    out: List[Example] = []
    items = (yaml.safe_load(EXAMPLES.read_text(encoding="utf-8")) or {}).get("items") or []
    for item in items:
        text = (item.get("turns") or [""])[-1]
        out.append(Example(text, item["kind"] if item.get("level") == "emergent" else NONE))
    for intent, text in _nlu_examples():
        if intent == EMERGENCY_INTENT:
            out.append(Example(text, (kind_of(text) if kind_of else None) or "general"))
        else:
            out.append(Example(text, NONE))
    return out


def _words(vocabulary: Optional[Dict[str, int]] = None) -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True, vocabulary=vocabulary)


def _chars(vocabulary: Optional[Dict[str, int]] = None) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True,
                           vocabulary=vocabulary)


class TriageNet:
    """P(kind | message) over the emergency kinds and "none"; plain arrays on disk."""

    def __init__(self, classes: Sequence[str], words: TfidfVectorizer, chars: TfidfVectorizer,
                 coef: np.ndarray, intercept: np.ndarray) -> None:
        self.classes = tuple(classes)
        self.words, self.chars = words, chars
        self.coef_t = np.asfortranarray(coef).T
        self.intercept = intercept
        self.none = self.classes.index(NONE)
        # The same features as _features, built by hand: sklearn's transform costs about
        # 1 ms per message, most of it checks and sparse-matrix plumbing (bench).
        self._blocks = []
        offset = 0
        for vectorizer in (words, chars):
            self._blocks.append((vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_, offset))
            offset += len(vectorizer.vocabulary_)

    @classmethod
    def train(cls, examples: Sequence[Example]) -> "TriageNet":
        texts = [e.text for e in examples]
        words, chars = _words().fit(texts), _chars().fit(texts)
        # lbfgs: 23 s, converged in about 130 iterations (saga had not after 1,000, 109 s).
        model = LogisticRegression(C=10.0, class_weight="balanced", max_iter=1000, random_state=42)
        model.fit(_features(words, chars, texts), [e.kind for e in examples])
        return cls(list(model.classes_), words, chars, model.coef_, model.intercept_)

    def _row(self, text: str) -> Tuple[np.ndarray, np.ndarray]:
        """(column indices, values) of the message's feature row, as _features makes it:
        sublinear tf × idf, each block L2-normalised, then the whole row."""
        columns: List[int] = []
        values: List[float] = []
        for analyze, vocabulary, idf, offset in self._blocks:
            counts = Counter(term for term in analyze(text) if term in vocabulary)
            block = [(vocabulary[t], (1.0 + math.log(c)) * idf[vocabulary[t]]) for t, c in counts.items()]
            norm = math.sqrt(sum(v * v for _, v in block)) or 1.0
            columns.extend(offset + j for j, _ in block)
            values.extend(v / norm for _, v in block)
        row = np.asarray(values)
        total = float(np.sqrt(row @ row)) if len(row) else 1.0
        return np.asarray(columns, dtype=np.int64), row / (total or 1.0)

    def probabilities(self, text: str) -> np.ndarray:
        columns, values = self._row(text)
        logits = values @ self.coef_t[columns] + self.intercept
        weights = np.exp(logits - logits.max())
        return weights / weights.sum()

    def kind(self, text: str, threshold: float = THRESHOLD) -> Optional[str]:
        """The likeliest emergency kind when the net is at least `threshold` sure of one."""
        if not text or not text.strip():
            return None
        p = self.probabilities(text)
        if 1.0 - p[self.none] < threshold:
            return None
        p[self.none] = -1.0
        return self.classes[int(np.argmax(p))]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / "net.npz", coef=np.ascontiguousarray(self.coef_t.T), intercept=self.intercept,
                 word_idf=self.words.idf_, char_idf=self.chars.idf_)
        meta = {"classes": list(self.classes),
                "word_vocabulary": {k: int(v) for k, v in self.words.vocabulary_.items()},
                "char_vocabulary": {k: int(v) for k, v in self.chars.vocabulary_.items()}}
        (directory / "net.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "TriageNet":
        meta = json.loads((directory / "net.json").read_text(encoding="utf-8"))
        with np.load(directory / "net.npz", allow_pickle=False) as saved:
            words, chars = _words(meta["word_vocabulary"]), _chars(meta["char_vocabulary"])
            words.idf_, chars.idf_ = saved["word_idf"], saved["char_idf"]
            return cls(meta["classes"], words, chars, saved["coef"], saved["intercept"])


def _features(words: TfidfVectorizer, chars: TfidfVectorizer, texts: Sequence[str]) -> scipy.sparse.csr_matrix:
    return normalize(scipy.sparse.hstack([words.transform(texts), chars.transform(texts)], format="csr"))


_NETS: Dict[str, Optional[TriageNet]] = {}


def net_dir() -> Path:
    """Where make build writes the net: $BACLOFEN_TRIAGE_NET_PATH, else build/triage_net."""
    return Path(os.environ.get("BACLOFEN_TRIAGE_NET_PATH") or DEFAULT_DIR)


def default_net(directory: Optional[Path] = None) -> Optional[TriageNet]:
    """The built net (loaded once), or None when it was not built: the rules still work."""
    key = str(directory or DEFAULT_DIR)
    if key not in _NETS:
        try:
            _NETS[key] = TriageNet.load(Path(key))
        except (OSError, ValueError, KeyError):
            _NETS[key] = None
    return _NETS[key]


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="default: $BACLOFEN_TRIAGE_NET_PATH or build/triage_net")
    args = ap.parse_args(argv)
    from safety.red_flags import detect

    examples = training_examples(lambda text: next((f.kind for f in detect(text)), None))
    net = TriageNet.train(examples)
    out = args.out or net_dir()
    net.save(out)
    emergencies = sum(1 for e in examples if e.kind != NONE)
    print(f"triage net: {emergencies} emergencies, {len(examples) - emergencies} other messages "
          f"→ {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
