"""Deterministic red-flag detector: does a message describe an emergency now?

The rules are data, in safety/rules/ (see docs/triage-rules.md), matched on lower-case
NORM, which the pipeline's spelling component has already corrected:

1. CONCEPTS (concepts.yml) are small token patterns ("having a seizure", "pump ...
   beeping", "took too many"), built from the word classes of words.yml. Each match is
   a *hit*; a concept's Python check (`validator:`, below) can still reject it.
2. A hit does not count when it is (this logic is the engine's, the cue words are data)
   - negated: "no", "not", "never", "without", "denies" shortly before it in the
     same clause ("no fever", "hasn't had a seizure");
   - hypothetical or general: after "if" / "in case" / "what happens" / "can X
     cause" in its sentence, in a clause about "signs of" / "side effects" /
     what something "means", in a sentence opening with "will"/"would", in a
     question that names no real person ("is hallucinating common?"), or in a
     sentence about the distant past ("years ago", "as a child"; not for standing facts
     marked background, such as having a pump);
   - already handled: care was given ("took him to A&E") and a later resolution says it
     is over ("he's home and completely fine"); only what comes before the resolution.
   Stated intent to self-harm (concepts marked even_if_hypothetical) ignores the
   hypothetical checks (but not negation, nor "is suicidal thinking a side effect?").
3. KIND RULES (kinds.yml) combine live hits into the kinds of
   knowledge.topics.RED_FLAG_KINDS (e.g. pump mention + alarm sounding → pump_alarm).

The stock rules are loaded and validated when this module is imported: a broken rule
file raises safety.rule_files.RuleFileError with file:line messages (`make build` runs
the same check first, as `python -m safety.rules_check`).
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, List, Mapping, Optional, Sequence, Set, Tuple, Union

from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span

from knowledge.topics import RED_FLAG_KINDS
from nlp.pipeline import parse
from safety import rule_files
from safety.rule_files import TEMP_REGEX, VALIDATOR_LIMITS, KindRule, Rules, load_rules

logger = logging.getLogger(__name__)

# The stock rules (safety/rules/). RuleFileError, with file:line messages, if they are broken.
RULES: Rules = load_rules()

# Kinds the detector reports: the emergency subtopics. "general" is an emergency
# stated outright ("this is an emergency", "call an ambulance") with no sign named.
KINDS: Tuple[str, ...] = RED_FLAG_KINDS

# Reported first when several kinds fire: the most specific situation leads. This is the
# order of the kinds' rules in kinds.yml.
PRIORITY: Tuple[str, ...] = RULES.priority
assert set(PRIORITY) == set(KINDS), "PRIORITY must list exactly the emergency kinds"

MAX_CHARS = 5000  # longer input is cut: the guard caps messages well below this

# Names other modules and tests use, from the stock rules.
WORDS: Dict[str, Tuple[str, ...]] = RULES.classes          # word classes, by CAPS name
BACLOFEN_NAMES: Tuple[str, ...] = RULES.classes["BACLOFEN"]
CONCEPTS: Dict[str, List[str]] = RULES.patterns()           # match name -> pattern lines
# Words whose misspellings the pipeline's spelling component should fix (nlp/build_pipeline.py).
SPELLING_WORDS: Tuple[str, ...] = RULES.spelling
# Signs that matter with what was said before ("my pump ran out" … "now I have a fever").
SIGN_CONCEPTS: FrozenSet[str] = frozenset(name for name, c in RULES.concepts.items() if c.sign)


@dataclass(frozen=True)
class RedFlag:
    kind: str
    text: str   # the words that raised the flag
    start: int  # character offsets in the message
    end: int


def compile_pattern(text: str, words_by_class: Optional[Mapping[str, Sequence[str]]] = None) -> List[dict]:
    """Turn one line of the pattern mini-language into a spaCy Matcher pattern."""
    return rule_files.compile_pattern(text, words_by_class or WORDS)


def lexicon_baclofen_names(nlp: Language) -> Tuple[str, ...]:
    """One-word names of baclofen in the pipeline's lexicon ("baclofin", "lioresal")."""
    if "entity_ruler" not in nlp.pipe_names:
        return ()
    names = {p["pattern"] for p in nlp.get_pipe("entity_ruler").patterns
             if p.get("label") == "BACLOFEN" and isinstance(p.get("pattern"), str)}
    return tuple(sorted(n for n in names if " " not in n))


# --------------------------------------------------------------------------- checks
# The Python checks a concept names as `validator:` in concepts.yml, with the limits
# written there. Each gets the match and the detector (for its word lists).


def _number(token_norm: str, numbers: Mapping[str, float]) -> Optional[float]:
    text = token_norm.rstrip("cf°")
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return numbers.get(token_norm)


def _numbers_in(span: Span, numbers: Mapping[str, float]) -> List[float]:
    values = []
    for token in span:
        value = _number(token.norm_, numbers) if (token.like_num or re.match(TEMP_REGEX, token.norm_)) else None
        if value is not None:
            values.append(value)
    return values


def _took_count(doc: Doc, span: Span, det: "RedFlagDetector", at_least: float) -> bool:
    """"took 15 of her tablets": at_least of something, not a daily total."""
    numbers = _numbers_in(span, det.rules.numbers)
    if not numbers or numbers[-1] < at_least or span.end >= len(doc):
        return False
    following = doc[span.end]
    if following.norm_ not in {"of", "instead", "x"} | det.med:
        return False
    window = {t.norm_ for t in doc[span.end:span.end + 6]}
    return not window & {"day", "daily", "week", "today", "days"}


def _took_mg(doc: Doc, span: Span, det: "RedFlagDetector", more_than_mg: float) -> bool:
    """"took 200mg": more than more_than_mg at once, not a daily total."""
    numbers = _numbers_in(span, det.rules.numbers)
    window = {t.norm_ for t in doc[span.end:span.end + 4]}
    return bool(numbers) and numbers[-1] > more_than_mg and not window & {"day", "daily", "week"}


def _instead_of(doc: Doc, span: Span, det: "RedFlagDetector") -> bool:
    """"8 instead of 1", "40mg instead of 10mg": more than meant, given or taken."""
    numbers = _numbers_in(span, det.rules.numbers)
    if len(numbers) < 2 or numbers[0] <= numbers[-1]:
        return False
    before = {t.norm_ for t in doc[span.sent.start:span.start]}
    return bool(before & set(det.rules.classes["TAKE_PAST"] + ("given", "accidentally", "mistake")))


def _fever_num(doc: Doc, span: Span, det: "RedFlagDetector",
               celsius: Tuple[float, float], fahrenheit: Tuple[float, float]) -> bool:
    """A temperature reading in the fever range, in °C or °F."""
    numbers = _numbers_in(span, det.rules.numbers)
    return bool(numbers) and (celsius[0] <= numbers[-1] <= celsius[1]
                              or fahrenheit[0] <= numbers[-1] <= fahrenheit[1])


def _child_age(doc: Doc, span: Span, det: "RedFlagDetector", under_years: float) -> bool:
    """An age in years counts as a child's under under_years ("6 years old", "6yo")."""
    if span[-1].norm_ == "old" or any(t.norm_ in ("yo", "year", "years", "yr", "yrs") for t in span):
        numbers = _numbers_in(span, det.rules.numbers)
        return not numbers or numbers[0] < under_years
    return True


def _count_at_least(doc: Doc, span: Span, det: "RedFlagDetector", at_least: float) -> bool:
    """"if 40 of the 20mg is enough": the first number is a count of at least at_least
    (a number of milligrams or millilitres, "is 20mg enough", is a dose, not a count)."""
    for token in span:
        if token.like_num:
            value = _number(token.norm_, det.rules.numbers)
            after = doc[token.i + 1].norm_ if token.i + 1 < len(doc) else ""
            return value is not None and value >= at_least and after not in ("mg", "milligrams", "mgs", "ml", "mls")
    return False


def _past_cue(doc: Doc, span: Span, det: "RedFlagDetector") -> bool:
    """"before"/"previously" mark history only at the end of a clause ("had fits before"),
    and not after a negator ("she's never had one before" says it is the first, now).
    A number after "in" is history only as a year ("back in 2019", not "back in 2 days")."""
    for token in span[1:]:
        if token.like_num and doc[token.i - 1].norm_ == "in":
            year = _number(token.norm_, det.rules.numbers)
            if year is None or not 1900 <= year <= 2100:
                return False
    if span.text.lower() not in ("before", "previously"):
        return True
    if not (span.end >= len(doc) or doc[span.end].norm_ in det.rules.lists["NEGATION_BREAKS"]):
        return False
    clause_ends = det.rules.lists["CLAUSE_ENDS"]
    for i in range(span.start - 1, max(span.start - 7, span.sent.start - 1), -1):
        if doc[i].norm_ in clause_ends:
            break
        if doc[i].norm_ in det.rules.lists["NEGATORS"]:
            return False
    return True


def _child_ingest(doc: Doc, span: Span, det: "RedFlagDetector") -> bool:
    """An eating/swallowing verb only counts with a medicine-like object soon
    after it in the same clause ("got into my pills", not "got into trouble")."""
    ingested = set(det.rules.classes["CONTAINER"]) | {"some", "one", "any", "couple", "few"}
    clause_ends = det.rules.lists["CLAUSE_ENDS"]
    reach = 6 if span[0].norm_ not in ("got", "gotten", "get", "getting") else 3
    for i in range(span.end, min(span.end + reach, span.sent.end)):
        token = doc[i]
        if token.norm_ in clause_ends:
            return False
        own = token.norm_ in ("his", "her", "their") and i + 1 < len(doc) and doc[i + 1].norm_ in det.med
        if own:  # "swallowed his tablet whole": the child's own medicine
            return False
        if token.norm_ in det.med or token.norm_ in ingested or token.like_num:
            return True
        # "not sure if he swallowed it all": "it" is the medicine when the message names one
        if token.norm_ in ("it", "them") and any(t.norm_ in det.med for t in doc):
            return True
    return False


CHECKS: Dict[str, Callable[..., bool]] = {
    "took_count": _took_count,
    "took_mg": _took_mg,
    "instead_of": _instead_of,
    "fever_num": _fever_num,
    "child_age": _child_age,
    "child_ingest": _child_ingest,
    "past_cue": _past_cue,
    "count_at_least": _count_at_least,
}
assert set(CHECKS) == set(VALIDATOR_LIMITS), "safety.rule_files.VALIDATOR_LIMITS must name exactly these checks"


# --------------------------------------------------------------------------- hits


@dataclass(frozen=True)
class _Hit:
    concept: str
    start: int  # token offsets
    end: int
    sent: int   # sentence index


class _Context:
    """Per-message facts used to judge whether a hit is real and current."""

    def __init__(self, doc: Doc, cues: Dict[str, List[Tuple[int, int]]], rules: Rules,
                 even_if_hypothetical: FrozenSet[str], background: FrozenSet[str] = frozenset()) -> None:
        self.doc = doc
        self.cues = cues
        self.words = rules.classes
        self.lists = rules.lists
        self.even_if_hypothetical = even_if_hypothetical
        self.background = background
        self.background_at: List[int] = []  # where standing facts are named (set by _hits)
        self.event_at: List[int] = []  # where anything else is
        self.sent_of = [0] * len(doc)
        self.sents: List[Span] = list(doc.sents) if len(doc) else []
        for index, sent in enumerate(self.sents):
            for i in range(sent.start, sent.end):
                self.sent_of[i] = index

    def clause_bounds(self, i: int) -> Tuple[int, int]:
        doc, sent, ends = self.doc, self.sents[self.sent_of[i]], self.lists["CLAUSE_ENDS"]
        start = i
        while start > sent.start and doc[start - 1].norm_ not in ends:
            start -= 1
        end = i
        while end < sent.end and doc[end].norm_ not in ends:
            end += 1
        return start, end

    def negated(self, start: int) -> bool:
        doc = self.doc
        for i in range(start - 1, max(start - 5, -1), -1):
            norm = doc[i].norm_
            if norm in self.lists["NEGATION_BREAKS"]:
                return False
            if norm in self.lists["NEGATORS"]:
                after = doc[i + 1].norm_ if i + 1 < len(doc) else ""
                # "not sure he's breathing" is doubt; "won't stop shaking" is ongoing
                return after not in self.words["UNCERTAIN"] and after not in self.lists["ONGOING_AFTER_NEGATOR"]
        return False

    def _cue_before(self, name: str, start: int, sent: Span) -> bool:
        return any(sent.start <= s < start for s, _ in self.cues.get(name, ()))

    def hypothetical(self, hit: _Hit) -> bool:
        """"if he has a seizure", "what happens when", "will my baby be jittery"."""
        doc, sent, wh_words = self.doc, self.sents[hit.sent], self.lists["WH_WORDS"]
        # "I don't know if he swallowed any" is a real worry; "how do I know if..." is not.
        wh_question = doc[sent.start].norm_ in wh_words
        for s, _ in self.cues.get("CUE_IF", ()):
            uncertain = s > 0 and doc[s - 1].norm_ in self.words["UNCERTAIN"]
            if sent.start <= s < hit.start and (wh_question or not uncertain):
                return True
        for s, _ in self.cues.get("CUE_WHEN", ()):
            if sent.start <= s < hit.start and any(t.norm_ in wh_words for t in doc[sent.start:s]):
                return True
        if doc[sent.start].norm_ in self.lists["FUTURE_START"] and not self.dropped_subject(sent):
            return True
        return self.general_question(sent)

    @staticmethod
    def dropped_subject(sent: Span) -> bool:
        """"can't breathe", "won't wake up": a statement whose subject was left out."""
        return len(sent) > 1 and sent[1].norm_ == "not"

    def general_question(self, sent: Span) -> bool:
        """A question that names no real person: "is hallucinating common?"."""
        first, last = sent[0].norm_, sent[-1].norm_
        if (first not in self.lists["QUESTION_START"] or self.dropped_subject(sent)) and last != "?":
            return False
        return not any(t.norm_ in self.words["PERSONAL"] for t in sent)

    def educational(self, hit: _Hit) -> bool:
        """Cause questions, "signs of", "side effect", "what does X mean", the past."""
        sent = self.sents[hit.sent]
        if self._cue_before("CUE_CAUSE", hit.start, sent):
            return True
        clause_start, clause_end = self.clause_bounds(hit.start)
        if any(clause_start <= s < clause_end for s, _ in self.cues.get("CUE_CLAUSE", ())):
            return True
        if hit.concept in self.background:  # "I've had my pump since 5 years ago": still has it
            return False
        return any(sent.start <= s < sent.end and not self._dates_a_fact(s, hit)
                   for s, _ in self.cues.get("CUE_PAST", ()))

    def _dates_a_fact(self, cue: int, hit: _Hit) -> bool:
        """A past cue in a clause of its own that dates a standing fact ("neck is stiff, got
        my pump put in last month"): it says when the pump came, not that the sign is over."""
        start, end = self.clause_bounds(cue)
        if start <= hit.start < end or any(start <= e < end for e in self.event_at):
            return False
        # "a bad reaction after a pump refill back in March" is a past event, not a date
        dating = any(t.norm_ in self.lists["FACT_START"] for t in self.doc[start:end])
        return dating and any(start <= b < end for b in self.background_at)

    def handled(self, hit: _Hit) -> bool:
        """Already seen to and over: care was given ("took him to A&E", "the clinic saw
        her") and a later, not negated, resolution says it is over ("he's home and
        completely fine", "looking much better"). Only what comes before the resolution
        is handled; a standing fact ("has a pump") never is, nor anything while care
        advised going in ("they said take him to A&E") is still pending."""
        if hit.concept in self.background:
            return False
        care = [s for s, _ in self.cues.get("CUE_CARE", ())]
        pending = [s for s, _ in self.cues.get("CUE_PENDING", ())]
        # "they said go to A&E ... I feel fine now": not yet. But care given after the advice
        # ("told us to go in, she was watched overnight and discharged") means they went.
        if pending and not any(s > max(pending) for s in care):
            return False
        return bool(care) and any(
            s > hit.start and min(care) < s and not self.negated(s)
            for s, _ in self.cues.get("CUE_RESOLVED", ()))

    def live(self, hit: _Hit) -> bool:
        if self.negated(hit.start) or self.educational(hit) or self.handled(hit):
            return False
        # A standing fact ("has a pump", "on dialysis") is not made hypothetical by the
        # sentence it is in ("Catheter problem maybe?"): only events and signs can be.
        return (hit.concept in self.even_if_hypothetical or hit.concept in self.background
                or not self.hypothetical(hit))


class _Hits:
    """Live hits of one message, with the query the kind rules need."""

    def __init__(self, hits: Sequence[_Hit], mentioned: Set[str]) -> None:
        self.hits = list(hits)
        self.mentioned = mentioned  # concepts present at all (even negated)

    def get(self, concepts: FrozenSet[str]) -> List[_Hit]:
        return [h for h in self.hits if h.concept in concepts]

    def match(self, rule: KindRule) -> Optional[List[_Hit]]:
        """One hit per term of the rule (the first that fits), or None."""
        candidates = [self.get(term) for term in rule.terms]
        if not all(candidates):
            return None
        if not (rule.same_sentence or rule.ordered):
            return [found[0] for found in candidates]
        for combination in itertools.product(*candidates):
            if rule.same_sentence and len({hit.sent for hit in combination}) > 1:
                continue
            if rule.ordered and any(a.start > b.start for a, b in zip(combination, combination[1:])):
                continue
            return list(combination)
        return None


# --------------------------------------------------------------------------- kinds


def _kind_hits(rules: Sequence[KindRule], h: _Hits) -> Dict[str, List[_Hit]]:
    """Which kinds fire, each with the hits of the first of its rules that matched
    (rules are tried in the order of kinds.yml)."""
    found: Dict[str, List[_Hit]] = {}
    for rule in rules:
        if rule.kind in found or (rule.only_if_nothing_else and found):
            continue
        if any(kind in found for kind in rule.unless_fired):
            continue
        if any(concept in h.mentioned for concept in rule.unless_mentioned):
            continue
        hits = h.match(rule)
        if hits:
            found[rule.kind] = hits
    return found


# --------------------------------------------------------------------------- detector


class RedFlagDetector:
    """Red-flag rules over a loaded spaCy pipeline (built by nlp.build_pipeline).

    `rules`: the stock rules by default; or a Rules object, or a folder of rule files
    (loaded and validated: RuleFileError with file:line messages when broken)."""

    def __init__(self, nlp: Language, rules: Union[Rules, rule_files.PathLike, None] = None) -> None:
        self.nlp = nlp
        self.rules: Rules = rules if isinstance(rules, Rules) else (load_rules(rules) if rules else RULES)
        words = dict(self.rules.classes)
        words["MED"] = tuple(sorted(set(words["MED"]) | set(lexicon_baclofen_names(nlp))))
        self.med = set(words["MED"])
        self.matcher = Matcher(nlp.vocab, validate=True)
        for name, lines in self.rules.patterns().items():
            self.matcher.add(name, [compile_pattern(line, words) for line in lines])
        self.validators: Dict[str, Callable[[Doc, Span, RedFlagDetector], bool]] = {
            name: functools.partial(CHECKS[check], **limits)
            for name, (check, limits) in self.rules.validators().items()}
        self.priority = self.rules.priority
        self.signs_named = frozenset(name for name, c in self.rules.concepts.items() if c.sign)
        self.even_if_hypothetical = frozenset(
            name for name, c in self.rules.concepts.items() if c.even_if_hypothetical)
        self.background = frozenset(name for name, c in self.rules.concepts.items() if c.background)

    def detect(self, text: str) -> List[RedFlag]:
        """Red flags in a message, most specific first; [] on any odd input."""
        try:
            if not isinstance(text, str) or not text.strip():
                return []
            return self.detect_doc(parse(self.nlp, text[:MAX_CHARS]))
        except Exception:  # a safety check must never take the bot down
            logger.exception("red-flag detection failed; treating message as ordinary")
            return []

    def conditional(self, text: str) -> List[str]:
        """Kinds a message asks about without describing them happening now ("what should I
        watch for after a refill?", "what if my pump alarm beeps?"): the red-flag words are
        there, but only as a hypothetical, a general question or what to look out for.
        Negated ones ("no fever") do not count. [] on any odd input."""
        try:
            if not isinstance(text, str) or not text.strip():
                return []
            doc = parse(self.nlp, text[:MAX_CHARS])
            hits, context, mentioned = self._hits(doc)
            live = _kind_hits(self.rules.rules, _Hits([h for h in hits if context.live(h)], mentioned))
            not_negated = _Hits([h for h in hits if not context.negated(h.start)], mentioned)
            present = _kind_hits(self.rules.rules, not_negated)
            kinds = [k for k in self.priority if k in present and k not in live and k != "general"]
            if live:  # an emergency now: the emergency advice says it all
                return kinds
            # "what should I watch for with the pump?": the kinds asked about (watch_for rules)
            asked = _kind_hits(self.rules.watch_for, not_negated)
            return list(dict.fromkeys(kinds + [r.kind for r in self.rules.watch_for if r.kind in asked]))
        except Exception:
            logger.exception("conditional red-flag check failed; treating message as ordinary")
            return []

    def signs(self, text: str) -> List[str]:
        """Warning signs a message names and does not negate ("now I have a fever"), even
        when no rule fires on them alone. [] on any odd input."""
        try:
            if not isinstance(text, str) or not text.strip():
                return []
            hits, context, _ = self._hits(parse(self.nlp, text[:MAX_CHARS]))
            return list(dict.fromkeys(h.concept for h in hits
                                      if h.concept in self.signs_named and not context.negated(h.start)))
        except Exception:
            logger.exception("red-flag sign check failed")
            return []

    def _hits(self, doc: Doc) -> Tuple[List[_Hit], _Context, Set[str]]:
        raw: Dict[str, List[Tuple[int, int]]] = {}
        for match_id, start, end in self.matcher(doc):
            concept = self.nlp.vocab.strings[match_id]
            validator = self.validators.get(concept)
            if validator and not validator(doc, doc[start:end], self):
                continue
            raw.setdefault(concept, []).append((start, end))

        cues = {name: raw.pop(name, []) for name in self.rules.cues}
        excludes = {name[len("EXCLUDE_"):]: raw.pop(name) for name in list(raw)
                    if name.startswith("EXCLUDE_")}
        context = _Context(doc, cues, self.rules, self.even_if_hypothetical, self.background)
        hits: List[_Hit] = []
        for concept, spans in raw.items():
            for start, end in spans:
                if any(s < end and start < e for s, e in excludes.get(concept, ())):
                    continue
                hits.append(_Hit(concept, start, end, context.sent_of[start]))
        hits.sort(key=lambda hit: (hit.start, -hit.end))
        context.background_at = [hit.start for hit in hits if hit.concept in self.background]
        context.event_at = [hit.start for hit in hits if hit.concept not in self.background]
        return hits, context, {hit.concept for hit in hits}

    def detect_doc(self, doc: Doc) -> List[RedFlag]:
        hits, context, mentioned = self._hits(doc)
        live = _Hits([hit for hit in hits if context.live(hit)], mentioned)

        flags = []
        found = _kind_hits(self.rules.rules, live)
        for kind in self.priority:
            if kind in found:
                used = found[kind]
                start = min(doc[hit.start].idx for hit in used)
                last = doc[max(hit.end for hit in used) - 1]
                end = last.idx + len(last.text)
                flags.append(RedFlag(kind, doc.text[start:end], start, end))
        return flags


_DETECTORS: Dict[int, RedFlagDetector] = {}


def detector_for(nlp: Language) -> RedFlagDetector:
    """One detector per loaded pipeline (the Rasa component shares its pipeline)."""
    key = id(nlp)
    if key not in _DETECTORS:
        _DETECTORS[key] = RedFlagDetector(nlp)
    return _DETECTORS[key]


def default_detector() -> RedFlagDetector:
    """Detector over the pipeline at $BACLOFEN_SPACY_PATH (default build/spacy/baclofen_nlp)."""
    from nlp.pipeline import load_pipeline  # late import: the build imports this module

    return detector_for(load_pipeline())


def _default() -> Optional[RedFlagDetector]:
    """The default detector, or None (logged) when the pipeline cannot be loaded: a safety
    check must never take the bot down."""
    try:
        return default_detector()
    except Exception:
        logger.exception("red-flag detector unavailable")
        return None


def detect(text: str) -> List[RedFlag]:
    """Red flags in a message using the default pipeline; [] if it cannot run."""
    detector = _default()
    return detector.detect(text) if detector else []


def detect_across(previous: str, current: str) -> List[RedFlag]:
    """Red flags that only two messages together show: "my pump ran out on Monday" … "now
    I have a fever". Kinds either message shows alone are left out (they were, or are,
    reported on their own)."""
    if not (isinstance(previous, str) and isinstance(current, str)) or not previous.strip() or not current.strip():
        return []
    # An emergency the previous message showed alone was reported then; it is reported again
    # only when this message adds a warning sign ("it's the two tones, and the spasms are
    # getting worse"), since that one is still going on.
    before = set() if signs(current) else {f.kind for f in detect(previous)}
    alone = before | {f.kind for f in detect(current)}
    return [f for f in detect(f"{previous.rstrip(' .!?')}. {current}") if f.kind not in alone]


def conditional(text: str) -> List[str]:
    """Red-flag kinds a message asks about conditionally (see RedFlagDetector.conditional)."""
    detector = _default()
    return detector.conditional(text) if detector else []


def signs(text: str) -> List[str]:
    """Warning signs a message names (see RedFlagDetector.signs)."""
    detector = _default()
    return detector.signs(text) if detector else []
