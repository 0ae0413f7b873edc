"""Messages as ranker words, and messages split into the questions they ask.

A message and an entry's questions go through the same steps, so that they meet on
the same words:
- the spaCy pipeline (nlp/build_pipeline.py) has fixed known misspellings in each
  token's NORM ("baclofin", "efects");
- a lexicon word becomes what it means as well as what it says: "xanax" is
  `§class:benzodiazepines` and `§drug:alprazolam` (so a question written with one
  benzodiazepine matches a message naming another), "my son" is `§population:children`;
- the lexicon's `concepts` do the same for everyday words: "nodded off", "zombie" and
  "drowsy" are all `§concept:drowsiness`, so a question written with one word matches a
  message written with another;
- names of baclofen itself and stop words carry no meaning here and are dropped;
- the rest is stemmed (Snowball), so "refills" and "refilling" meet.
The character string (for character n-grams) keeps the words, not the ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from nltk.stem.snowball import SnowballStemmer
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span

from nlp import lexicon_matcher as lm

_STEMMER = SnowballStemmer("english")
MARK = "§"
# Only the commonest function words go (measured: a longer list lost more than it gained);
# question words ("how", "long", "often"), "with" and negations stay: they tell "how long"
# from "how much", and "is it a narcotic" from "with a narcotic".
STOP_WORDS = frozenset(
    "the a an to of in on at for my i me it its it's is are am was be do does did can could "
    "would should will you your".split()
)
# Baclofen's own names are dropped (every question is about it) but its brands are kept:
# "ozobax" says which liquid.
_BACLOFEN_WORD = ("bac", "backl", "baklo")


def stem(word: str) -> str:
    return _STEMMER.stem(word)


def _token_word(token) -> Optional[str]:  # type: ignore[no-untyped-def]
    """The plain word a token contributes (lower case, spelling fixed), or None."""
    if token.is_punct or token.is_space:
        return None
    word = token.norm_.lower().strip("'’\".,;:!?()[]")
    if not word or not any(c.isalnum() for c in word):
        return None
    return word


class Concepts:
    """The lexicon's `concepts` as a phrase matcher on NORM (spelling already fixed)."""

    def __init__(self, nlp: Language, concepts: Mapping[str, Sequence[str]]) -> None:
        self.terms = {cid: sorted({v for t in terms for v in lm.term_variants(str(t))})
                      for cid, terms in (concepts or {}).items()}
        self.matcher = PhraseMatcher(nlp.vocab, attr="NORM")
        for cid, variants in self.terms.items():
            self.matcher.add(cid, [nlp.make_doc(v) for v in variants])

    def ids(self, doc: Doc, start: int, end: int) -> List[str]:
        """`§concept:<id>` for each concept named between these character offsets."""
        found = []
        for match_id, first, last in self.matcher(doc):
            span = doc[first:last]
            if span.start_char >= start and span.end_char <= end:
                found.append(f"{MARK}concept:{doc.vocab.strings[match_id]}")
        return list(dict.fromkeys(found))


@dataclass(frozen=True)
class RankerText:
    words: Tuple[str, ...]  # stems, lexicon ids and word bigrams: the word features
    chars: str  # plain words joined: the character n-gram input


def ranker_text(doc: Doc, drug_classes: Mapping[str, Optional[str]] = (),
                span: Optional[Tuple[int, int]] = None, concepts: Optional[Concepts] = None) -> RankerText:
    """The ranker's view of a parsed message (or of the character range `span` of it)."""
    drug_classes = dict(drug_classes or {})
    entity_at: Dict[int, Span] = {}
    for ent in doc.ents:
        for i in range(ent.start, ent.end):
            entity_at[i] = ent
    start, end = span if span else (0, len(doc.text))
    ids: List[str] = []
    plain: List[str] = []
    done = set()
    for token in doc:
        if token.idx < start or token.idx >= end:
            continue
        ent = entity_at.get(token.i)
        if ent is not None and ent.label_ == lm.DRUG:
            if ent.start not in done:
                done.add(ent.start)
                ids.extend(_drug_ids(ent.ent_id_, drug_classes))
            continue  # which drug matters through its class, not its spelling
        word = _token_word(token)
        if ent is not None and ent.start not in done:
            done.add(ent.start)
            if ent.label_ in (lm.FORM, lm.POPULATION, lm.ASPECT) and ent.ent_id_:
                ids.append(f"{MARK}{ent.label_.lower()}:{ent.ent_id_}")
        if word is None:
            continue
        if ent is not None and ent.label_ == lm.BACLOFEN and word.startswith(_BACLOFEN_WORD):
            continue
        if word in STOP_WORDS:
            continue
        plain.append(word)
    if concepts is not None:
        ids.extend(concepts.ids(doc, start, end))
    stems = [stem(w) for w in plain]
    bigrams = [f"{a} {b}" for a, b in zip(stems, stems[1:])]
    return RankerText(tuple(stems + bigrams + ids), " ".join(plain))


def _drug_ids(entity_id: str, drug_classes: Mapping[str, Optional[str]]) -> List[str]:
    """A drug entity as ids: any drug, its class ("no information" when it has none)."""
    if not entity_id:
        return [f"{MARK}drug"]
    if entity_id in drug_classes:  # a drug
        drug_class = drug_classes[entity_id]
        return [f"{MARK}drug", f"{MARK}drug:{entity_id}", f"{MARK}class:{drug_class or 'none'}"]
    return [f"{MARK}drug", f"{MARK}class:{entity_id}"]  # a class named directly ("opioids")


# ------------------------------------------------------------------- two questions in one

# A new question starts at one of these after "and", "also", "plus" or a comma:
# "can I drink on it and will it make me gain weight".
_QUESTION_STARTS = frozenset(
    "can could will would does do did is are was should shall what whats what's how hows "
    "when whens why which who where any anything".split()
)
_JOINS = frozenset({"and", "also", "plus", "but", "&", "+"})
MIN_PART_WORDS = 1


def question_parts(doc: Doc) -> List[Tuple[int, int]]:
    """Character ranges of the separate questions in a message (one range when it asks one).

    Splits at sentence ends and where a join word or comma is followed by a word that
    starts a question. A piece that asks nothing ("I've wet the bed twice.") is the story
    behind the next question and stays with it; a piece with no
    content word joins its neighbour, so "is it safe? for kids I mean" stays one question.
    """
    cuts = {0}
    for sent in doc.sents:
        cuts.add(sent.start)
    for token in doc[:-1]:
        nxt = doc[token.i + 1]
        if (token.lower_ in _JOINS or token.text == ",") and nxt.lower_ in _QUESTION_STARTS:
            cuts.add(token.i + 1 if token.text == "," else token.i)
    bounds = sorted(cuts) + [len(doc)]
    pieces = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1) if bounds[i] < bounds[i + 1]]
    merged: List[Tuple[int, int]] = []
    pending: Optional[int] = None  # start of story pieces waiting for their question
    for start, end in pieces:
        start = start if pending is None else pending
        if not _asks(doc, start, end) or _content_words(doc, start, end) < MIN_PART_WORDS:
            pending = start
            continue
        pending = None
        merged.append((start, end))
    if pending is not None:
        if merged:
            merged[-1] = (merged[-1][0], len(doc))
        else:
            merged.append((pending, len(doc)))
    return [_char_range(doc, a, b) for a, b in merged]


def _asks(doc: Doc, start: int, end: int) -> bool:
    """A piece asks something: it has a question mark or starts like a question."""
    words = [t for t in doc[start:end] if not t.is_punct and t.lower_ not in _JOINS]
    return any(t.text == "?" for t in doc[start:end]) or bool(words and words[0].lower_ in _QUESTION_STARTS)


def _content_words(doc: Doc, start: int, end: int) -> int:
    words = (_token_word(t) for t in doc[start:end])
    return sum(1 for w in words if w and w not in STOP_WORDS and w not in _JOINS)


def _char_range(doc: Doc, start: int, end: int) -> Tuple[int, int]:
    """The piece's characters without its leading join word: "and is it a narcotic" asks
    whether baclofen is one, not about taking the two together."""
    while start < end - 1 and (doc[start].lower_ in _JOINS or doc[start].is_punct):
        start += 1
    span = doc[start:end]
    return span.start_char, span.end_char


def drug_classes_of(lexicon: Mapping[str, object]) -> Dict[str, Optional[str]]:
    """drug id → class id (None when our sources have nothing on it)."""
    drugs = lexicon.get("drugs") or {}
    return {drug_id: (value or {}).get("class") for drug_id, value in drugs.items()}  # type: ignore[union-attr]

