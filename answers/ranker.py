"""The entry ranker: which knowledge entries a message is asking for.

Trained at `make build` from the entries themselves: every entry declares, next to its
text, the questions it answers (knowledge/content/*.yml, `questions:`), and its title.
Each question, the title and the entry's own text become rows of TF-IDF features: word
stems, word bigrams and lexicon ids (answers/text.py) plus character 3–5-grams (typos).
A multinomial logistic regression over entries learns which features tell one entry
from the others ("sauna" names the heat entry; "pump" names none in particular), and
gives every entry a probability for a message. Chosen by measurement on the consumer
dev set (bench/answer_ranking.py; README, "Answer selection"): top-1 0.82 against 0.71
for nearest-neighbour cosine over the same features and 0.77 for entry centroids.

Nothing here knows about Rasa: nlp/components.py runs it inside the NLU pipeline, and the
answer gate and the measurement script run it directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import scipy.sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from answers.text import RankerText

ARRAYS_FILE = "entry_ranker.npz"
META_FILE = "entry_ranker.json"
# Relative weight of the character block against the word block in each row.
CHAR_WEIGHT = 0.8
CHAR_NGRAMS = (3, 5)
REGULARISATION_C = 10.0  # chosen on the dev set together with the features


@dataclass(frozen=True)
class EntryInfo:
    id: str
    topic: str
    subtopic: str
    title: str


@dataclass(frozen=True)
class Ranked:
    id: str
    score: float


def _identity(words: Sequence[str]) -> Sequence[str]:
    return words


def _word_vectorizer(vocabulary: Optional[Mapping[str, int]] = None) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer=_identity, sublinear_tf=True, vocabulary=vocabulary)


def _char_vectorizer(vocabulary: Optional[Mapping[str, int]] = None) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, sublinear_tf=True,
                           vocabulary=vocabulary)


class EntryRanker:
    """Probability of each entry for a message; built by `train`, saved as plain arrays."""

    def __init__(self, entries: Sequence[EntryInfo], words: TfidfVectorizer, chars: TfidfVectorizer,
                 coef: np.ndarray, intercept: np.ndarray) -> None:
        self.entries = tuple(entries)
        self.words = words
        self.chars = chars
        # Column-major, so that the product with a sparse row does not copy the matrix
        # (the same layout as nlp/intent_classifier.py).
        self.coef_t = np.asfortranarray(coef).T
        self.intercept = intercept

    # ------------------------------------------------------------------ training

    @classmethod
    def train(cls, entries: Sequence[EntryInfo], examples: Sequence[Tuple[int, RankerText]],
              c: float = REGULARISATION_C) -> "EntryRanker":
        """`examples`: (entry index, text) for each question, title and text of an entry."""
        if len(entries) < 2 or not examples:
            raise ValueError("the entry ranker needs at least two entries with questions")
        words = _word_vectorizer().fit([t.words for _, t in examples])
        chars = _char_vectorizer().fit([t.chars for _, t in examples])
        X = _features(words, chars, [t for _, t in examples])
        y = np.asarray([i for i, _ in examples])
        # saga: 20 s on 6,600 rows × 237 entries where lbfgs took 160 s (make bench's training
        # gate), with the same dev top-1 (0.886).
        model = LogisticRegression(C=c, solver="saga", max_iter=200, tol=1e-3, random_state=42).fit(X, y)
        # Entries are classes 0..n-1; every entry has at least one row (its title or text).
        coef = np.zeros((len(entries), X.shape[1]))
        intercept = np.full(len(entries), -1e9)
        coef[model.classes_] = model.coef_
        intercept[model.classes_] = model.intercept_
        return cls(entries, words, chars, coef, intercept)

    # ------------------------------------------------------------------- ranking

    def probabilities(self, text: RankerText) -> np.ndarray:
        """Each entry's probability for the message (they sum to 1)."""
        x = _features(self.words, self.chars, [text])
        logits = np.asarray(x @ self.coef_t).ravel() + self.intercept
        logits -= logits.max()
        weights = np.exp(logits)
        return weights / weights.sum()

    def rank(self, text: RankerText, limit: int = 12, floor: float = 0.002) -> List[Ranked]:
        if not text.words and not text.chars:
            return []
        scores = self.probabilities(text)
        order = np.argsort(-scores, kind="stable")[:limit]
        return [Ranked(self.entries[i].id, round(float(scores[i]), 5)) for i in order if scores[i] >= floor]

    # --------------------------------------------------------------- persistence

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / ARRAYS_FILE, coef=np.ascontiguousarray(self.coef_t.T), intercept=self.intercept,
                 word_idf=self.words.idf_, char_idf=self.chars.idf_)
        meta = {
            "entries": [e.__dict__ for e in self.entries],
            "word_vocabulary": {k: int(v) for k, v in self.words.vocabulary_.items()},
            "char_vocabulary": {k: int(v) for k, v in self.chars.vocabulary_.items()},
        }
        (directory / META_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "EntryRanker":
        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as saved:
            words = _word_vectorizer(meta["word_vocabulary"])
            words.idf_ = saved["word_idf"]
            chars = _char_vectorizer(meta["char_vocabulary"])
            chars.idf_ = saved["char_idf"]
            coef, intercept = saved["coef"], saved["intercept"]
        return cls([EntryInfo(**e) for e in meta["entries"]], words, chars, coef, intercept)


def _features(words: TfidfVectorizer, chars: TfidfVectorizer, texts: Sequence[RankerText]) -> scipy.sparse.csr_matrix:
    word_block = words.transform([t.words for t in texts])
    char_block = chars.transform([t.chars for t in texts]) * CHAR_WEIGHT
    return normalize(scipy.sparse.hstack([word_block, char_block], format="csr"))


def info_by_id(ranker: EntryRanker) -> Dict[str, EntryInfo]:
    return {e.id: e for e in ranker.entries}
