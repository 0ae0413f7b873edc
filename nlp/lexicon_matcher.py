"""Lexicon → spaCy patterns, and the spelling normaliser component.

The pipeline matches on the token attribute NORM (lower case). The
`baclofen_spelling` component runs first and rewrites the NORM of a misspelt
token ("baclofin", "siezure") to the known word it is one or two edits away
from, so every later matcher (entity ruler, red-flag rules) sees the fixed
spelling while the token text stays what the person typed.
"""

# No `from __future__ import annotations`: spaCy reads the factory signature types.
import gzip
import logging
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Set, Tuple

import srsly
from spacy.language import Language
from spacy.tokens import Doc

from knowledge import schema

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LEXICON = REPO_ROOT / "knowledge" / "lexicon.yml"
ENGLISH_WORDS = Path(__file__).resolve().parent / "data" / "english_words.txt.gz"

# Entity-ruler labels. BACLOFEN marks names of baclofen itself so they are
# never reported as an interacting drug.
DRUG, BACLOFEN, FORM, POPULATION, ASPECT = "DRUG", "BACLOFEN", "FORM", "POPULATION", "ASPECT"

MIN_FUZZY_LEN = 5
# Correct chat words that spell checkers' dictionaries lack, so they are never "fixed".
EXTRA_COMMON_WORDS = ("gonna", "wanna", "gotta", "kinda", "sorta", "alright", "lemme", "dunno", "thanx")


# --------------------------------------------------------------------------- lexicon


def load_lexicon(path: Optional[Path] = None) -> dict:
    """The validated lexicon (knowledge.schema raises with file:line problems)."""
    return schema.load_lexicon(Path(path) if path else DEFAULT_LEXICON)


def _terms(value: object) -> List[str]:
    """Terms of one lexicon entry: a list, or a mapping with `terms`."""
    if isinstance(value, dict):
        value = value.get("terms") or []
    if not isinstance(value, list):
        return []
    return [str(term).strip() for term in value if str(term).strip()]


def lexicon_entries(lexicon: dict) -> Iterator[Tuple[str, str, str]]:
    """Yield (label, id, term) for every term of the lexicon."""
    for term in _terms(lexicon.get("baclofen")):
        yield BACLOFEN, "baclofen", term
    for section, label in (("classes", DRUG), ("drugs", DRUG), ("forms", FORM),
                           ("populations", POPULATION), ("aspects", ASPECT)):
        for entry_id, value in (lexicon.get(section) or {}).items():
            terms = _terms(value)
            if section in ("classes", "drugs") and isinstance(value, dict) and value.get("name"):
                terms.append(str(value["name"]))
            for term in terms:
                yield label, str(entry_id), term


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def term_variants(term: str) -> Set[str]:
    """Spelling variants people type for one term: hyphens as spaces or
    dropped, and a plural of the last word."""
    base = " ".join(term.lower().split())
    variants = {base, base.replace("-", " "), base.replace("-", "")}
    for variant in list(variants):
        words = variant.split(" ")
        last = words[-1]
        if len(last) >= 4 and last.isalpha() and not last.endswith("s"):
            variants.add(" ".join(words[:-1] + [_plural(last)]))
    return {" ".join(v.split()) for v in variants if v.strip()}


# Ages written out: "6-year-old", "6 yr old", "6yo", "aged 6", "3 month old".
_NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve "
                 "thirteen fourteen fifteen sixteen seventeen").split()
_YEAR_WORDS = ["year", "years", "yr", "yrs", "y"]


def _ages(low: int, high: int, words: bool = False) -> List[str]:
    found = [str(n) for n in range(low, high + 1)]
    if words:
        found += _NUMBER_WORDS[low:high + 1]
    return found


def age_patterns() -> List[dict]:
    """Token patterns that turn a written age into a population."""
    hyphen = {"NORM": "-", "OP": "?"}
    child_age = {"NORM": {"IN": _ages(0, 17, words=True)}}
    older_age = {"NORM": {"IN": _ages(65, 115)}}
    years = {"NORM": {"IN": _YEAR_WORDS}}
    old = [{"NORM": "old"}]
    y_slash_o = [{"NORM": "y"}, {"NORM": "/"}, {"NORM": "o"}]
    child_compact = {"NORM": {"REGEX": r"^(1[0-7]|[0-9])(yo|y\.o|yr|yrs|yro)$"}}
    older_compact = {"NORM": {"REGEX": r"^(6[5-9]|[7-9][0-9]|10[0-9])(yo|y\.o|yr|yrs|yro)$"}}
    months = {"NORM": {"IN": ["month", "months", "mo", "week", "weeks", "wk", "day", "days"]}}
    any_number = {"LIKE_NUM": True}
    children = [
        [child_age, hyphen, years, hyphen, *old],
        [child_age, *y_slash_o],
        [child_compact],
        [any_number, hyphen, months, hyphen, *old],
        [{"NORM": {"IN": ["aged", "age"]}}, child_age],
    ]
    older = [
        [older_age, hyphen, years, hyphen, *old],
        [older_age, *y_slash_o],
        [older_compact],
        [{"NORM": {"IN": ["aged", "age"]}}, older_age],
        [{"NORM": "over"}, older_age],
    ]
    return ([{"label": POPULATION, "id": "children", "pattern": p} for p in children]
            + [{"label": POPULATION, "id": "older_adults", "pattern": p} for p in older])


def ruler_patterns(lexicon: dict) -> List[dict]:
    """All entity-ruler patterns for a lexicon (phrase patterns, matched on NORM)."""
    owner: Dict[str, Tuple[str, str]] = {}
    patterns: List[dict] = []
    for label, entry_id, term in lexicon_entries(lexicon):
        for variant in sorted(term_variants(term)):
            previous = owner.setdefault(variant, (label, entry_id))
            if previous != (label, entry_id):
                # The ruler keeps one label per span; the first listed wins.
                logger.warning("lexicon term %r is listed for %s and %s/%s; keeping %s",
                               variant, previous, label, entry_id, previous)
                continue
            patterns.append({"label": label, "id": entry_id, "pattern": variant})
    # Dedupe (a term can be listed twice for the same id).
    unique = {(p["label"], p["id"], p["pattern"]): p for p in patterns}
    return list(unique.values()) + age_patterns()


def spelling_targets(lexicon: dict) -> Set[str]:
    """Words a misspelling may be corrected to: every word of every lexicon term, and of the
    ranker's concepts ("constipaton" → constipation)."""
    words: Set[str] = set()
    terms = [term for _label, _id, term in lexicon_entries(lexicon)]
    terms += [str(t) for values in (lexicon.get("concepts") or {}).values() for t in values or ()]
    for term in terms:
        for variant in term_variants(term):
            words.update(w for w in variant.split() if w.isalpha())
    return words


def english_words() -> Set[str]:
    """Correct English words (SCOWL list, lower case, 5+ letters)."""
    with gzip.open(ENGLISH_WORDS, "rt", encoding="utf-8") as handle:
        words = {line.strip() for line in handle if line.strip()}
    return words | set(EXTRA_COMMON_WORDS)


# --------------------------------------------------------------------------- fuzzy


def allowed_distance(word: str) -> int:
    """How many edits a misspelling of `word` may have: none for short words."""
    if len(word) >= 8:
        return 2
    if len(word) >= MIN_FUZZY_LEN:
        return 1
    return 0


def osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a swap of two letters is one edit);
    returns limit + 1 as soon as the distance must exceed limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: List[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _deletes(word: str, depth: int) -> Set[str]:
    """All strings made by deleting up to `depth` letters (symmetric-delete index)."""
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


class SpellingIndex:
    """Finds the one target word a misspelt word is closest to."""

    def __init__(self, targets: Iterable[str], protected: Iterable[str] = ()) -> None:
        self.targets = {t.lower() for t in targets if t}
        self.protected = {p.lower() for p in protected}
        self._index: Dict[str, Set[str]] = {}
        for target in self.targets:
            for variant in _deletes(target, allowed_distance(target)):
                self._index.setdefault(variant, set()).add(target)
        self._cache: Dict[str, Optional[str]] = {}

    def candidate(self, word: str) -> Optional[str]:
        """Closest target within its allowed distance, ignoring protection;
        None when there is none or when two targets tie."""
        best: Dict[int, Set[str]] = {}
        for variant in _deletes(word, 2):
            for target in self._index.get(variant, ()):
                limit = allowed_distance(target)
                distance = osa_distance(word, target, limit)
                if 0 < distance <= limit:
                    best.setdefault(distance, set()).add(target)
        if not best:
            return None
        closest = best[min(best)]
        return next(iter(closest)) if len(closest) == 1 else None

    def correct(self, word: str) -> Optional[str]:
        """The target a typed word stands for, or None to leave it alone."""
        word = word.lower()
        if len(word) < MIN_FUZZY_LEN or not word.isalpha():
            return None
        if word in self.targets or word in self.protected:
            return None
        if word not in self._cache:
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[word] = self.candidate(word)
        return self._cache[word]


def protected_words(targets: Iterable[str], dictionary: Iterable[str]) -> Set[str]:
    """Dictionary words that would otherwise be 'corrected' into a target
    ("fine" stays fine, "sleeps" is not turned into "sleepy")."""
    index = SpellingIndex(targets)
    return {w for w in dictionary if w not in index.targets and index.candidate(w)}


@Language.factory("baclofen_spelling")
def make_spelling(nlp: Language, name: str) -> "SpellingNormalizer":
    return SpellingNormalizer(name)


class SpellingNormalizer:
    """spaCy component: sets token.norm_ of a misspelt word to the word meant."""

    FILE = "spelling.json"

    def __init__(self, name: str = "baclofen_spelling") -> None:
        self.name = name
        self.index = SpellingIndex(())

    def set_words(self, targets: Iterable[str], protected: Iterable[str]) -> None:
        self.index = SpellingIndex(targets, protected)

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            if len(token) >= MIN_FUZZY_LEN and token.is_alpha:
                fixed = self.index.correct(token.lower_)
                if fixed:
                    token.norm_ = fixed
        return doc

    def to_disk(self, path: Path, exclude: Iterable[str] = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path / self.FILE, {
            "targets": sorted(self.index.targets),
            "protected": sorted(self.index.protected),
        })

    def from_disk(self, path: Path, exclude: Iterable[str] = ()) -> "SpellingNormalizer":
        data = srsly.read_json(Path(path) / self.FILE)
        self.set_words(data["targets"], data["protected"])
        return self
