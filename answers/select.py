"""Which entries to show for one question, given the ranking and the conversation.

The entry ranker (answers/ranker.py, run inside NLU) scores every entry against the
words of the message. This module adds what only the conversation knows, then decides:

- the person: an entry written for the group being talked about ("my son" → children)
  is preferred, and one written for another group is held back;
- the form: the same for tablets, liquid, granules or the pump;
- the topic: the intent's topic, and for a follow-up the topic of the previous answer,
  tip a close call; a follow-up that names a new topic simply ranks that topic first;
- then: answer with the best entry (and a second one only when it says more about the
  same thing, such as the US and UK doses for children); or, when no entry clearly
  answers, ask one clarifying question offering the best few answers by title.
  A confident wrong answer is worse than a clarifying question.

Pure functions over plain data: tested without Rasa, tuned on tests/answers/consumer_dev.yml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from knowledge.topics import FORMS, OVERVIEW, POPULATIONS

PUMP_TOPIC, PUMP_FORM = "pump", "intrathecal"
DEFAULT_FORM = "tablets"  # what "it" is when no form is named: most people take tablets

# Tuned on the dev set (tests/answers/consumer_dev.yml): see README "Answer selection".
ANSWER_MIN = 0.45  # the best entry's share after context: below this it is only a guess
RAW_MIN = 0.08  # and the ranker's own probability for it: a share of a flat ranking is no evidence
PART_RAW_MIN = 0.3  # one question of several is answered on its own only with strong evidence
CLEAR_RATIO = 1.6  # the best must be this many times the runner-up, unless they agree
DECISIVE_MIN, DECISIVE_RATIO = 0.3, 2.5  # or a lower share that is far ahead of every other
CANDIDATE_MIN = 0.06  # entries offered on a clarifying question have at least this share
SECOND_RATIO = 1.25  # a second entry of the same subtopic is shown when this close
# A US entry of the same subtopic leads another country's best one only when the ranking
# gives it some weight: a share below this is another product's or strength's fact.
COMPANION_SHARE = 0.1
NEAR_TIE = 1.1  # a specific entry this close to its topic's overview: the overview answers
MAX_CANDIDATES = 3
# How much the intent classifier's topic counts: the entry's probability is multiplied by
# (P(topic) + PRIOR_FLOOR) ** PRIOR_WEIGHT. The floor keeps a topic the classifier
# missed in play.
PRIOR_WEIGHT = 0.3
PRIOR_FLOOR = 0.15
# Context factors.
SAME_GROUP = 2.0  # the entry is written for the person or form being asked about
ASPECT_MATCH = 2.0  # the message names the entry's subtopic ("which are serious?" → serious)
OTHER_GROUP = 0.5  # the entry is written for a group nobody mentioned
FOLLOW_UP_TOPIC = 4.0  # a follow-up stays on the previous answer's topic (dev: 3 → 4, one more right, none more wrong)
OTHER_COUNTRY = 0.75  # US labels first: a UK, Canadian or Swiss entry wins only when clearly better


@dataclass(frozen=True)
class EntryMeta:
    id: str
    topic: str
    subtopic: str
    title: str
    region: str = "US"  # whose label the entry's source is


@dataclass(frozen=True)
class Context:
    """What the conversation says about the question beyond its words."""

    intent_topic: Optional[str] = None  # "dosage" for ask_dosage
    topic_probabilities: Mapping[str, float] = field(default_factory=dict)  # from the intent ranking
    previous_topic: Optional[str] = None  # the topic of the last answer (a slot)
    follow_up: bool = False
    population: Optional[str] = None  # named now or earlier in the conversation
    form: Optional[str] = None
    aspects: Tuple[str, ...] = ()  # lexicon aspects named in this message ("serious", "refill")
    # A short follow-up that names only a form or brand ("and ozobax?"): the last
    # question again, so only the previous topic's entries are in play.
    same_question: bool = False


@dataclass(frozen=True)
class Decision:
    answer: Tuple[str, ...] = ()  # entry ids to show, best first
    candidates: Tuple[str, ...] = ()  # ids to offer when asking which one is meant
    scores: Tuple[Tuple[str, float], ...] = field(default=(), compare=False)

    @property
    def confident(self) -> bool:
        return bool(self.answer)


def adjusted(ranking: Sequence[Tuple[str, float]], meta: Mapping[str, EntryMeta],
             context: Context) -> List[Tuple[str, float]]:
    """The ranking with the intent's topic and the conversation's context applied, as shares
    that sum to 1, best first (ids the knowledge base no longer has are dropped)."""
    weighted = []
    stay = context.same_question and context.previous_topic is not None and any(
        meta[i].topic == context.previous_topic for i, _ in ranking if i in meta)
    for entry_id, probability in ranking:
        info = meta.get(entry_id)
        if info is None or (stay and info.topic != context.previous_topic):
            continue
        weighted.append((entry_id, probability * _prior(info, context) * _context_factor(info, context)))
    total = sum(w for _, w in weighted) or 1.0
    shares = [(i, w / total) for i, w in weighted]
    shares.sort(key=lambda pair: -pair[1])
    return shares


def _prior(info: EntryMeta, context: Context) -> float:
    if not context.topic_probabilities:
        return 1.0
    return (context.topic_probabilities.get(info.topic, 0.0) + PRIOR_FLOOR) ** PRIOR_WEIGHT


def _context_factor(info: EntryMeta, context: Context) -> float:
    factor = 1.0
    for named, groups in ((context.population, POPULATIONS), (context.form, FORMS)):
        if info.subtopic == named:
            factor *= SAME_GROUP
        elif info.subtopic in groups and not (named is None and info.subtopic == DEFAULT_FORM):
            factor *= OTHER_GROUP
    if context.form and info.topic == PUMP_TOPIC:  # every pump entry is written for the intrathecal form
        factor *= SAME_GROUP if context.form == PUMP_FORM else OTHER_GROUP
    if info.subtopic in context.aspects:
        factor *= ASPECT_MATCH
    if context.follow_up and context.previous_topic and info.topic == context.previous_topic:
        factor *= FOLLOW_UP_TOPIC
    if info.region != "US":
        factor *= OTHER_COUNTRY
    return factor


def decide(ranking: Sequence[Tuple[str, float]], meta: Mapping[str, EntryMeta],
           context: Context = Context()) -> Decision:
    """Answer, or the candidates of a clarifying question (both empty: nothing matched)."""
    ranked = adjusted(ranking, meta, context)
    scores = tuple((i, round(s, 4)) for i, s in ranked)
    if not ranked:
        return Decision(scores=scores)
    best_id, best = ranked[0]
    runner = ranked[1] if len(ranked) > 1 else None
    if runner is not None and (_overview_of_the_same_topic(meta[best_id], meta[runner[0]]) or (
            best < NEAR_TIE * runner[1] and _overview_of_the_same_topic(meta[runner[0]], meta[best_id]))):
        # A close call between a topic's general answer and one of its specific ones: the
        # person asked generally ("can I drive on it?"), so the general answer, which
        # covers the specific one, is given.
        overview = best_id if meta[best_id].subtopic == OVERVIEW else runner[0]
        (best_id, best), runner = (overview, best + runner[1]), (ranked[2] if len(ranked) > 2 else None)
    agree = runner is not None and _same_answer(meta[best_id], meta[runner[0]])
    clear = runner is None or best >= CLEAR_RATIO * runner[1]
    # The ranker's own probability, times what the conversation adds ("serious" after a
    # side-effects answer): a large share of a flat ranking is no evidence.
    # (On the same question again, the previous answer's topic is the evidence.)
    evidence = context.same_question or (
        dict(ranking).get(best_id, 0.0) * _context_factor(meta[best_id], context) >= RAW_MIN)
    decisive = runner is None or best >= DECISIVE_RATIO * runner[1]
    if evidence and ((best >= ANSWER_MIN and (clear or agree)) or (best >= DECISIVE_MIN and decisive)):
        shown = [best_id]
        if agree and runner is not None and runner[1] >= COMPANION_SHARE * best:
            if meta[best_id].region != "US" and meta[runner[0]].region == "US":
                shown = [runner[0], best_id]  # the US label leads; the other country's adds to it
            elif best <= SECOND_RATIO * runner[1]:
                shown.append(runner[0])
        return Decision(answer=tuple(shown), scores=scores)
    return Decision(candidates=_candidates(ranked, meta), scores=scores)


def _overview_of_the_same_topic(candidate: EntryMeta, best: EntryMeta) -> bool:
    return candidate.subtopic == OVERVIEW and best.subtopic != OVERVIEW and candidate.topic == best.topic


def _same_answer(a: EntryMeta, b: EntryMeta) -> bool:
    """Two entries that answer the same question (same topic and subtopic, not overviews)."""
    return a.topic == b.topic and a.subtopic == b.subtopic and a.subtopic != OVERVIEW


def _candidates(ranked: Sequence[Tuple[str, float]], meta: Mapping[str, EntryMeta]) -> Tuple[str, ...]:
    """The best few distinct answers worth offering, one per subtopic."""
    chosen: List[str] = []
    seen = set()
    for entry_id, score in ranked:
        if score < CANDIDATE_MIN or len(chosen) == MAX_CANDIDATES:
            break
        key = (meta[entry_id].topic, meta[entry_id].subtopic)
        if key not in seen:
            seen.add(key)
            chosen.append(entry_id)
    return tuple(chosen)


def meta_of(entries: Sequence[object]) -> Dict[str, EntryMeta]:
    """EntryMeta by id for knowledge.store.Entry objects (anything with those fields)."""
    return {e.id: EntryMeta(e.id, e.topic, e.subtopic, getattr(e, "title", "") or e.id,  # type: ignore[attr-defined]
                            getattr(e, "source_region", "US"))
            for e in entries}
