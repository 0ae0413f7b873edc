"""Rasa custom actions: read the turn, let answers/select.py choose, compose.py write.

Every action derives from SafeAction, whose run() never raises: Rasa drops the
whole reply of an action that raises, so a failure becomes a safe apology.
"""

from __future__ import annotations

import json
import logging
import re
from abc import abstractmethod
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions import compose
from answers import select
from knowledge import store
from knowledge.schema import load_lexicon
from knowledge.store import Entry
from knowledge.topics import EMERGENCY, OVERVIEW, POPULATIONS, is_topic
from safety import personal_dosing, red_flags

log = logging.getLogger(__name__)

# Which line ends the reply: medicines → pharmacist, pump → pump team, doses → prescriber.
AUDIENCE = {
    "interactions": "pharmacist",
    "pump": "pump_team",
    "dosage": "prescriber",
    "missed_dose": "prescriber",
    "stopping": "prescriber",
}

TOPIC_TITLES = {
    "about": "What baclofen is",
    "uses": "What it is used for",
    "forms": "Forms and strengths",
    "dosage": "Usual doses",
    "how_to_take": "How to take it",
    "missed_dose": "Missed dose",
    "stopping": "Stopping baclofen",
    "side_effects": "Side effects",
    "interactions": "Other medicines and alcohol",
    "warnings": "Warnings",
    "driving": "Driving",
    "pregnancy": "Pregnancy and breastfeeding",
    "overdose": "Overdose",
    "storage": "Storage",
    "pump": "Intrathecal pump",
}

PERSONAL_DOSE_PREFACE = (
    "I can't tell you what dose to take or whether to change it — only your prescriber can "
    "decide that. Here is what the official label says:"
)
CONVERSION_PREFACE = (
    "I can't convert between baclofen by mouth and pump doses, or give pump instructions — only "
    "your pump team can set a pump dose. Here is what the label says about pump doses:"
)
CLARIFY_PROMPT = "I want to be sure I answer the right question. Which of these do you mean?"
NOT_SURE_PROMPT = "Sorry, I'm not sure I understood. Is your question about one of these?"
SOMETHING_ELSE = {"title": "Something else", "payload": "/deny"}
# A button of a clarifying question sends /follow_up{"entry": "<id>"}: only a payload can
# carry this entity (no NLU component extracts it).
CHOOSE_INTENT = "follow_up"
ENTRY_ENTITY = "entry"
# A topic's answers are never complete without this one (overdose → call Poison Control).
ALWAYS_INCLUDED = {"overdose": "what_to_do"}
MIN_FOLLOW_ON_CONFIDENCE = 0.6
MAX_DRUGS = 3
# Ranked answers that win over the named-medicine lookup ("is it like valium?" is about
# what baclofen is, not about taking it with diazepam); dosing questions that name another
# medicine stay interaction questions ("how much tylenol can I take with it?").
DRUG_LOOKUP_TOPICS = frozenset({"interactions", "dosage", "how_to_take"})
# A named medicine with several entries shows those the ranking puts near the best.
BARE_WORDS = 5  # a follow-up this short that names a form asks the last question again
PERSON_ENTITIES = ("form", "population")
CONFIDENT_ELSEWHERE = 0.5  # a follow-up ranked this surely elsewhere leaves the last medicine
MAX_WRITTEN_FOR = 3  # entries shown for one form or person ("and the liquid?": each liquid)
RELATED_SHARE = 0.4
# A personal question answered with one of these also gets the label's limit.
RAISING = frozenset({"overview", "starting", "titration"})


class SafeAction(Action):
    """An action whose failures become a safe apology instead of a silent empty reply."""

    @abstractmethod
    def name(self) -> Text:
        """The action's name in the domain."""

    @abstractmethod
    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker,
               domain: Dict[Text, Any]) -> List[EventType]:
        """Send the reply; may raise — run() turns any failure into the apology."""

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: Dict[Text, Any]) -> List[EventType]:
        try:
            across = [] if self.name() == "action_emergency" else conversation_red_flags(tracker)
            if not across:
                return self.answer(dispatcher, tracker, domain)
            # An emergency only this message and the one before show together: its advice
            # first, then the answer to what was asked.
            inner = CollectingDispatcher()
            events = self.answer(inner, tracker, domain)
            emergency = emergency_messages(across)
            send(dispatcher, emergency[:-1])
            dispatcher.messages.extend(inner.messages)
            if not any(str(m.get("text") or "").startswith(compose.DISCLAIMER_MARK) for m in inner.messages):
                send(dispatcher, emergency[-1:])
            return events
        except Exception:  # noqa: BLE001 - by design: a medical bot must never go silent
            log.exception("action %s failed; sending the safe apology", self.name())
            dispatcher.messages.clear()  # no half answer before the apology
            send(dispatcher, compose.apology())
            return []


def emergency_messages(kinds: Sequence[str]) -> List[compose.Message]:
    """The emergency advice for these red-flag kinds (the general advice when none has an
    entry), then the disclaimer."""
    advice = compose._unique([e for k in kinds for e in store.entries(EMERGENCY, [k])])
    return compose.compose([], "emergency", emergency=advice or store.entries(EMERGENCY, ["general"]))


# safety.triage_net.EXTRACTOR, not imported: that module loads scikit-learn, which the
# action server does not otherwise need (a test keeps the two equal).
TRIAGE_NET = "TriageNet"


def red_flag_kinds(tracker: Tracker) -> List[str]:
    """The kinds to advise on: the rules' own, else what the rules see in the last two
    messages together, else the learned safety net's guess (safety/triage_net.py)."""
    flags = [e for e in tracker.latest_message.get("entities", []) if e.get("entity") == "red_flag" and e.get("value")]
    ruled = [str(e["value"]) for e in flags if e.get("extractor") != TRIAGE_NET]
    if ruled:
        return list(dict.fromkeys(ruled))
    return conversation_red_flags(tracker) or list(dict.fromkeys(str(e["value"]) for e in flags))


def conversation_red_flags(tracker: Tracker) -> List[str]:
    """Red-flag kinds shown only by the person's last two messages together."""
    texts = [e.get("text") for e in tracker.events
             if e.get("event") == "user" and isinstance(e.get("text"), str)]
    if len(texts) < 2 or texts[-1].startswith("/") or texts[-2].startswith("/"):
        return []  # a button press is not the person's own words
    return list(dict.fromkeys(f.kind for f in red_flags.detect_across(texts[-2], texts[-1])))


def send(dispatcher: CollectingDispatcher, messages: Sequence[compose.Message]) -> None:
    for m in messages:
        dispatcher.utter_message(text=m["text"], buttons=m.get("buttons") or [])


# ------------------------------------------------------------------ reading the turn

Ranking = List[Tuple[str, float]]


@dataclass
class Part:
    """One of several questions in a message: its text, entities and ranking."""

    text: str
    drugs: List[str]
    ranking: Ranking


@dataclass
class Question:
    """What the latest message asks, with context from the conversation filled in."""

    intent: str
    text: str
    topic: Optional[str]  # the intent's topic ("dosage" for ask_dosage)
    drugs: List[str]
    population: Optional[str]
    form: Optional[str]
    previous_topic: Optional[str] = None
    ranking: Ranking = field(default_factory=list)
    parts: List[Part] = field(default_factory=list)
    topic_probabilities: Dict[str, float] = field(default_factory=dict)
    aspects: Tuple[str, ...] = ()
    chosen: Optional[str] = None  # an entry picked from a clarifying question's buttons
    groups: Tuple[str, ...] = ()  # forms this message names
    other_words: Tuple[str, ...] = ()  # words beside entities, baclofen's names and fillers

    @property
    def bare_follow_up(self) -> Optional[str]:
        """The form a short follow-up asks about ("and the liquid?"): the previous question
        again, for that form. (A person named this way goes through the ranking: the label's
        entry for them may be in another topic.)"""
        if not self.groups or not short_follow_up(self.intent, self.previous_topic, self.text):
            return None
        return self.groups[0]

    @property
    def same_question(self) -> bool:
        """A short follow-up naming only a form or brand ("and ozobax?", "and the liquid?"):
        the last question again for it, so it stays on the previous topic."""
        return not self.other_words and short_follow_up(self.intent, self.previous_topic, self.text)

    @property
    def follow_up(self) -> bool:
        # An unsure message mid-conversation is most likely about what was just discussed,
        # and so is one whose topic is the one just discussed ("so can I take two next time?").
        return self.intent in ("follow_up", "nlu_fallback") or (
            self.topic is not None and self.topic == self.previous_topic)

    def context(self) -> select.Context:
        return select.Context(intent_topic=self.topic, topic_probabilities=self.topic_probabilities,
                              previous_topic=self.previous_topic, follow_up=self.follow_up,
                              population=self.population, form=self.form, aspects=self.aspects,
                              same_question=self.same_question)


def entity_values(tracker: Tracker, entity: str) -> List[str]:
    values = [e.get("value") for e in tracker.latest_message.get("entities", [])
              if e.get("entity") == entity and e.get("value")]
    return list(dict.fromkeys(str(v) for v in values))


def _ranking(raw: Any) -> Ranking:
    out = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("score"), (int, float)):
            out.append((item["id"], float(item["score"])))
    return out


def _parts(tracker: Tracker) -> List[Part]:
    drugs = [e for e in tracker.latest_message.get("entities", []) if e.get("entity") == "drug"]
    parts = []
    for raw in tracker.latest_message.get("entry_parts") or []:
        if not isinstance(raw, dict):
            continue
        start, end = raw.get("start", 0), raw.get("end", 0)
        inside = [str(e.get("value")) for e in drugs if isinstance(e.get("start"), int)
                  and start <= e["start"] < end and e.get("value")]
        parts.append(Part(str(raw.get("text") or ""), list(dict.fromkeys(inside))[:MAX_DRUGS],
                          _ranking(raw.get("ranking"))))
    return parts


def read_question(tracker: Tracker, intent: Optional[str] = None) -> Question:
    intent = intent or (tracker.latest_message.get("intent") or {}).get("name") or ""
    text = tracker.latest_message.get("text") or ""
    drugs = entity_values(tracker, "drug")
    populations = entity_values(tracker, "population")
    forms = entity_values(tracker, "form") or brand_forms(text)
    topic: Optional[str] = intent[len("ask_"):] if intent.startswith("ask_") else None
    previous = tracker.get_slot("topic")
    # The person stays the same until another is named ("my son" … "and in him?").
    population = populations[0] if populations else tracker.get_slot("population")
    form = forms[0] if forms else None
    entities = tracker.latest_message.get("entities") or []
    words = other_words(text, entities)
    ranking = _ranking(tracker.latest_message.get("entry_ranking"))
    # "and for her?", "what about for my son?": nothing asked but the person; the last
    # question again, for them.
    repeat = (short_follow_up(intent, previous if is_topic(previous) else None, text)
              and not other_words(text, entities, PERSON_ENTITIES))
    if intent == "follow_up":
        # The medicine just discussed, unless this message clearly asks about something
        # else ("what about grapefruit?" after alcohol).
        if not drugs and previous == "interactions" and not forms and (
                repeat or (not populations and not confident_elsewhere(ranking, tracker.get_slot("drug") or []))):
            drugs = list(tracker.get_slot("drug") or [])[-MAX_DRUGS:]
        form = form or tracker.get_slot("form")
    if repeat and not (populations and ranking and ranking[0][1] >= CONFIDENT_ELSEWHERE):
        # (A person named with an entry of their own clearly ranked is asked about as such:
        # "and for older people?" after who should not take it.)
        ranking = blend(previous_ranking(tracker), ranking)
    chosen = next(iter(entity_values(tracker, ENTRY_ENTITY)), None)
    return Question(
        intent=intent, text=text, topic=topic if is_topic(topic) else None, drugs=drugs[:MAX_DRUGS],
        population=population if population in POPULATIONS else None, form=form,
        previous_topic=previous if is_topic(previous) else None,
        ranking=ranking,
        parts=_parts(tracker), chosen=chosen,
        topic_probabilities=_topic_probabilities(tracker),
        aspects=tuple(entity_values(tracker, "aspect")),
        groups=tuple(forms),
        other_words=words,
    )


def short_follow_up(intent: str, previous_topic: Optional[str], text: str) -> bool:
    """A follow-up of at most BARE_WORDS words after an answer on some topic."""
    return (intent == "follow_up" and previous_topic is not None
            and len(re.findall(r"[a-z0-9']+", text.lower())) <= BARE_WORDS)


def previous_ranking(tracker: Tracker) -> Ranking:
    """The entry ranking of the person's previous message (the question a follow-up repeats)."""
    users = [e for e in tracker.events if e.get("event") == "user"]
    if len(users) < 2:
        return []
    previous = users[-2]
    if str(previous.get("text") or "").startswith("/"):
        return []  # a button press: no words of its own
    return _ranking((previous.get("parse_data") or {}).get("entry_ranking"))


def blend(previous: Ranking, current: Ranking) -> Ranking:
    """The previous question's ranking and this message's, half each: "and for her?" keeps
    the last question; "what about older adults?" after the children's dose also finds
    the older adults' entry, which the previous ranking may not hold."""
    if not previous:
        return current
    scores: Dict[str, float] = {}
    for ranking in (previous, current):
        for entry_id, score in ranking:
            scores[entry_id] = scores.get(entry_id, 0.0) + score / 2
    return sorted(scores.items(), key=lambda kv: -kv[1])


def confident_elsewhere(ranking: Ranking, drugs: Sequence[str]) -> bool:
    """The ranking is sure of an entry that is not about these medicines."""
    if not ranking or ranking[0][1] < CONFIDENT_ELSEWHERE:
        return False
    theirs = {e.id for drug in drugs for e in store.interaction(drug).entries}
    return ranking[0][0] not in theirs


# Words that ask nothing by themselves in a short follow-up ("and what about for the liquid?").
FILLER_WORDS = frozenset("""and or but so then what whats what's about how hows how's for with the a an
    it its it's is are does do that this one ones same too also there then ok okay please pls
    if on in of to my his her their our your him them me""".split())


@lru_cache(maxsize=1)
def _brand_patterns() -> Tuple[Tuple["re.Pattern[str]", str], ...]:
    brands = load_lexicon().get("brand_forms") or {}
    longest_first = sorted(brands.items(), key=lambda kv: -len(kv[0]))
    return tuple((re.compile(rf"\b{re.escape(b.lower())}\b"), f) for b, f in longest_first)


def brand_forms(text: str) -> List[str]:
    """The forms of the brands a message names ("ozobax" → liquid), from knowledge/lexicon.yml."""
    lowered = text.lower()
    return list(dict.fromkeys(form for pattern, form in _brand_patterns() if pattern.search(lowered)))


@lru_cache(maxsize=1)
def baclofen_names() -> frozenset:
    """Baclofen's own names (generic, brands, misspellings) from knowledge/lexicon.yml."""
    names = load_lexicon().get("baclofen") or []
    return frozenset(w for name in names for w in str(name).lower().split())


def other_words(text: str, entities: Sequence[Dict[str, Any]],
                skip: Tuple[str, ...] = ("form",)) -> Tuple[str, ...]:
    """The message's words outside its `skip` entities (forms), baclofen's names and filler
    words. An aspect or a medicine names something new ("and the dose?", "and with
    alcohol?"); so does a person, whose entry may be in another topic ("and for older
    people?"), unless persons are skipped too."""
    chars = list(text.lower())
    for entity in entities:
        if entity.get("entity") not in skip:
            continue
        start, end = entity.get("start"), entity.get("end")
        if isinstance(start, int) and isinstance(end, int):
            chars[start:end] = " " * (end - start)
    words = re.findall(r"[a-z0-9']+", "".join(chars))
    return tuple(w for w in words if w not in FILLER_WORDS and w not in baclofen_names())


def _topic_probabilities(tracker: Tracker) -> Dict[str, float]:
    """P(topic) from the intent ranking: ask_dosage 0.8 → {"dosage": 0.8}."""
    out: Dict[str, float] = {}
    for ranked in tracker.latest_message.get("intent_ranking") or []:
        name = ranked.get("name") or "" if isinstance(ranked, dict) else ""
        confidence = ranked.get("confidence") if isinstance(ranked, dict) else None
        if name.startswith("ask_") and is_topic(name[4:]) and isinstance(confidence, (int, float)):
            out[name[4:]] = float(confidence)
    return out


# ------------------------------------------------------------------ composing answers


def _meta() -> Dict[str, select.EntryMeta]:
    return select.meta_of(store.answerable())


def audience_of(topic: Optional[str]) -> str:
    return AUDIENCE.get(topic or "", "clinician")


def with_companions(entries: List[Entry]) -> List[Entry]:
    """Add the entry a topic's answer is never complete without (overdose → what to do)."""
    if not entries:
        return entries
    topic = entries[0].topic
    needed = ALWAYS_INCLUDED.get(topic)
    if needed and all(e.subtopic != needed for e in entries):
        entries = entries + [e for e in store.entries(topic, [needed]) if e.subtopic == needed][:1]
    return entries


def lookup(ids: Sequence[str]) -> List[Entry]:
    return store.entries_by_id(ids)


@dataclass
class Reply:
    """What one turn says, and the topic of the first entry it showed (for follow-ups)."""

    messages: List[compose.Message]
    topic: Optional[str] = None


@dataclass
class Choice:
    """The answer to one question: an answer bubble, or a note, or the candidates to ask about."""

    bubble: Optional[compose.Bubble] = None
    audience: str = "clinician"
    note: Optional[str] = None  # e.g. "Our sources list no interaction information for X …"
    candidates: Tuple[str, ...] = ()

    @property
    def topic(self) -> Optional[str]:
        return self.bubble.entries[0].topic if self.bubble and self.bubble.entries else None


def by_ranking(entries: Sequence[Entry], ranking: Ranking) -> List[Entry]:
    """The entries the ranking puts clearly first (a named drug can have several): the best,
    and others at least RELATED_SHARE of its probability; unranked ones keep their order."""
    scores = dict(ranking)
    ranked = sorted(entries, key=lambda e: -scores.get(e.id, 0.0))
    best = scores.get(ranked[0].id, 0.0) if ranked else 0.0
    if best <= 0.0:
        return list(entries)
    return [e for e in ranked if scores.get(e.id, 0.0) >= RELATED_SHARE * best]


def interaction_bubble(drugs: Sequence[str], ranking: Ranking = ()) -> Tuple[Optional[compose.Bubble], List[str]]:
    """What our sources say about each named medicine with baclofen: (bubble, notes)."""
    found = [(drug, store.interaction(drug)) for drug in drugs]
    # Each named medicine keeps what the ranking puts first among its own entries.
    chosen = {e.id for _, result in found if result.known for e in by_ranking(result.entries, ranking)}
    entries: List[Entry] = []
    intros: List[str] = []
    notes: List[str] = []
    for _, result in found:
        if not result.known:
            notes.append(result.text)
            continue
        mine = [e for e in result.entries if e.id in chosen and e not in entries]
        entries.extend(mine)
        intro = drug_intro(result.match, mine) if mine else ""
        if intro:
            intros.append(intro)
    if not entries:
        return None, notes
    return compose.Bubble(entries, " ".join(intros + notes) or None), []


def drug_intro(match: Optional[store.DrugMatch], entries: Sequence[Entry] = ()) -> str:
    """Say how we read the name ("oxycontin" → oxycodone, an opioid) so a wrong match is
    visible, when the answer speaks of the drug's class rather than the drug itself."""
    if match is None or not match.class_name or not match.drug_name:
        return ""
    if any(e.subtopic == match.drug_id for e in entries):
        return ""  # the entry is about this drug itself
    if match.drug_name.split()[0].lower() in match.class_name.lower():
        return ""  # "lithium" in "lithium medicines"
    return (f"Our sources do not name {match.drug_name} itself, but they cover "
            f"{match.class_name}, which include it.")


def choose(q: Question, ranking: Ranking, drugs: Sequence[str]) -> Choice:
    """The answer to one question (the whole message, or one part of it)."""
    group = q.bare_follow_up
    if group and not drugs and q.previous_topic:
        written = written_for(q.previous_topic, group, ranking, q.context())
        if written:
            return Choice(compose.Bubble(with_companions(written)), audience_of(q.previous_topic))
    decision = select.decide(ranking, _meta(), q.context())
    best = lookup(decision.answer)
    if drugs and not (best and best[0].topic not in DRUG_LOOKUP_TOPICS):
        # A named medicine: what our sources say about it, unless the words clearly ask
        # something else ("is it like valium?" is about what baclofen is).
        bubble, notes = interaction_bubble(drugs, ranking)
        if bubble is not None:
            return Choice(bubble, "pharmacist")
        if best and best[0].topic == "interactions":
            # Nothing on the name itself, but the words name an entry ("sertraline" → SSRIs).
            return Choice(compose.Bubble(best), "pharmacist")
        return Choice(note=" ".join(notes), audience="pharmacist")
    if best:
        best = for_the_person(best, q.population)
        return Choice(compose.Bubble(with_companions(best)), audience_of(best[0].topic))
    return Choice(candidates=decision.candidates)


def written_for(topic: str, group: str, ranking: Ranking = (),
                context: Optional[select.Context] = None) -> List[Entry]:
    """A topic's entries written for one form or person: US labels first, then as ranked."""
    written = [e for e in store.entries(topic, [group]) if e.subtopic == group]
    us = [e for e in written if e.source_region == "US"]
    written = us or written  # US labels first: another country's entry only when no US one
    ids = {e.id for e in written}
    shares = select.adjusted([(i, p) for i, p in ranking if i in ids], _meta(), context or select.Context())
    return (by_ranking(written, shares) if written else [])[:MAX_WRITTEN_FOR]


def for_the_person(best: List[Entry], population: Optional[str]) -> List[Entry]:
    """A topic's general answer, when the conversation is about someone its topic has an
    entry for ("my son" … "and the dose?"), is replaced by that entry: US label first."""
    if not population or [e.subtopic for e in best] != [OVERVIEW]:
        return best
    return written_for(best[0].topic, population)[:1] or best


WHICH_MEDICINE = ("Which other medicine do you mean? Tell me its name (for example \"oxycodone\" "
                  "or \"Xanax\") and I'll tell you what our sources say.")


NOT_COVERED = (store.NO_INFORMATION.format(name="what you asked about")
               + " If you meant a medicine, tell me its name and I'll check.")
# Words of a general question about other medicines ("is it ok to mix with other meds?").
GENERAL_INTERACTION_WORDS = frozenset("""interact interacts interaction interactions avoid
    avoided mix mixing mixed combine combined together safe safely ok okay fine take taking
    took can could should shouldn't cant can't i i'm im you we be other others medicine
    medicines medication medications meds drug drugs pill pills anything something things
    stuff while when problem problems any bad dangerous risky all list which know aware need
    needs worry careful watch look out effect effects there have has get use using used mine
    tell thing usual common main known possible serious major risk risks happen happens cause
    causes react reaction reactions contraindicated contraindications conflict conflicts clash
    clashes affect affects work along same time prescribed prescription otc counter over
    regular daily current currently already also""".split())


def names_something(q: Question) -> bool:
    """The message names something beside general interaction words: a substance we don't
    know ("turmeric"), not a general question."""
    return any(w not in GENERAL_INTERACTION_WORDS and len(w) > 2 for w in q.other_words)


def general_interactions() -> Reply:
    """The label's general warning, and a question for the medicine's name."""
    return Reply(compose.compose(store.entries("interactions", [OVERVIEW]), "pharmacist", note=WHICH_MEDICINE),
                 "interactions")


def clarify(candidates: Sequence[str], prompt: str = CLARIFY_PROMPT) -> List[compose.Message]:
    """One short question offering the best candidate answers by their titles."""
    buttons = []
    for entry in lookup(candidates):
        payload = f"/{CHOOSE_INTENT}{json.dumps({ENTRY_ENTITY: entry.id})}"
        buttons.append({"title": entry.title or entry.id, "payload": payload})
    return [{"text": prompt, "buttons": buttons + [SOMETHING_ELSE]}]


def topic_buttons(q: Question) -> List[compose.Message]:
    """Nothing matched: offer the main topics as buttons."""
    extra = f'{{"population": "{q.population}"}}' if q.population in POPULATIONS else ""
    topics = ["dosage", "side_effects", "interactions", "pump"]
    return [{"text": "What would you like to know about baclofen?",
             "buttons": [{"title": TOPIC_TITLES[t], "payload": f"/ask_{t}{extra}"} for t in topics]}]


def entries_answer(entries: List[Entry], preface: Optional[str] = None) -> Reply:
    entries = with_companions(entries)
    topic = entries[0].topic
    return Reply(compose.reply([compose.Bubble(entries, preface)], audience_of(topic)), topic)


def reply_of(choice: Choice, q: Question) -> Reply:
    """The messages for one question's choice."""
    if choice.bubble is not None:
        if not q.drugs and [e.subtopic for e in choice.bubble.entries] == [OVERVIEW] and choice.topic == "interactions":
            if names_something(q):
                return Reply(compose.reply([], "pharmacist", note=NOT_COVERED), "interactions")
            return general_interactions()  # "what should I avoid with it?": and which medicine?
        return Reply(compose.reply([choice.bubble], choice.audience), choice.topic)
    if choice.note:
        return Reply(compose.reply([], choice.audience, note=choice.note), "interactions")
    if q.topic == "interactions" and not q.drugs:
        if names_something(q):
            # Something named that our sources do not cover ("turmeric or ashwagandha?").
            return Reply(compose.reply([], "pharmacist", note=NOT_COVERED), "interactions")
        # About other medicines in general ("what should I avoid with it?").
        return general_interactions()
    if choice.candidates:
        return Reply(clarify(choice.candidates))
    if q.topic:  # the classifier knows the topic, but no entry matched the words
        return entries_answer(store.entries(q.topic, [OVERVIEW]))
    return Reply(topic_buttons(q))


def parts_answer(q: Question) -> Optional[Reply]:
    """Each question of a several-question message answered in its own bubble, or None."""
    if len(q.parts) < 2:
        return None
    answered = []
    for part in q.parts:
        choice = choose(q, part.ranking, part.drugs)
        # One question of several stands on its own only with strong evidence: a short
        # piece ("what do we do now?") matches something weakly.
        if choice.bubble is not None and (part.drugs or dict(part.ranking).get(choice.bubble.entries[0].id, 0.0)
                                          >= select.PART_RAW_MIN):
            answered.append(choice)
    firsts = {c.bubble.entries[0].id for c in answered if c.bubble}
    if len(answered) < 2 or len(firsts) < len(answered):
        return None
    audiences = {c.audience for c in answered}
    audience = audiences.pop() if len(audiences) == 1 else "clinician"
    return Reply(compose.reply([c.bubble for c in answered if c.bubble], audience), answered[0].topic)


def answer_messages(q: Question) -> Reply:
    """The normal (non-emergency) answer to a knowledge question."""
    if q.chosen:
        chosen = lookup([q.chosen])
        if chosen:
            return entries_answer(chosen)
    if personal_dosing.is_conversion_request(q.text):
        return Reply(compose.compose(store.entries("pump", ["dosage"]), "pump_team",
                                     preface=CONVERSION_PREFACE), "pump")
    several = parts_answer(q)
    if several:
        return several
    choice = choose(q, q.ranking, q.drugs)
    if not q.drugs and personal_dosing.is_personal_dosing_request(q.text) and q.topic in (None, "dosage", "pump"):
        return personal_dose_answer(q, choice)
    return reply_of(choice, q)


def personal_dose_answer(q: Question, choice: Choice) -> Reply:
    """Never a dose for this person: the label fact the question is about, and a referral."""
    topic = "pump" if q.topic == "pump" or q.form == "intrathecal" or choice.topic == "pump" else "dosage"
    # The label's limit for this person: a child's or kidney patient's entry, the pump dose
    # range, or else the adult maximum (80 mg a day).
    sub = "dosage" if topic == "pump" else (q.population or "maximum")
    limit = [e for e in store.entries(topic, [sub]) if e.subtopic == sub] or store.entries(topic, [OVERVIEW])
    chosen = list(choice.bubble.entries) if choice.bubble is not None and choice.topic in ("dosage", "pump") else []
    if not chosen:
        entries = limit
    elif chosen[0].subtopic in RAISING and all(e.subtopic != sub for e in chosen):
        # "should I go up to 30 mg three times a day?": how doses are raised, and the limit.
        entries = compose._unique(chosen + limit[:1])
    else:
        entries = chosen  # the fact asked about ("how many mL is 10 mg?")
    return Reply(compose.compose(entries, audience_of(topic), preface=PERSONAL_DOSE_PREFACE), topic)


def context_events(q: Question, tracker: Tracker, topic: Optional[str]) -> List[EventType]:
    """Remember the topic and the person; forget what belonged to the previous topic."""
    if topic is None:
        return []
    events: List[EventType] = [SlotSet("topic", topic)]
    if topic != tracker.get_slot("topic"):
        events.append(SlotSet("form", q.form))
        if topic != "interactions":
            events.append(SlotSet("drug", None))
    events.append(SlotSet("aspect", None))  # an aspect belongs to one question only
    return events


class ActionAnswer(SafeAction):
    def name(self) -> Text:
        return "action_answer"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker,
               domain: Dict[Text, Any]) -> List[EventType]:
        q = read_question(tracker)
        reply = answer_messages(q)
        send(dispatcher, with_when_to_get_help(reply.messages, q.text))
        return context_events(q, tracker, reply.topic)


WHEN_TO_GET_HELP = "When to get help at once:"


def with_when_to_get_help(messages: List[compose.Message], text: str) -> List[compose.Message]:
    """A conditionally emergent question ("what should I watch for after a refill?", "what
    if my pump alarm beeps?") gets the warning signs with when to call 911 — the emergency
    entry for that kind, as a normal bubble after the answer, never opening the reply."""
    kinds = red_flags.conditional(text)
    if not kinds or not messages:
        return messages
    shown = "\n".join(str(m.get("text") or "") for m in messages)
    advice = [e for k in kinds[:2] for e in store.entries(EMERGENCY, [k]) if e.text.strip()[:40] not in shown]
    if not advice:
        return messages
    extra = compose.reply([compose.Bubble(compose._unique(advice), WHEN_TO_GET_HELP)])[:-1]  # no second disclaimer
    last = messages[-1]
    if str(last.get("text") or "").startswith(compose.DISCLAIMER_MARK):
        return messages[:-1] + extra + [last]
    return messages + extra


class ActionEmergency(SafeAction):
    """Emergency advice first; then, when the message also asked something clear, its answer."""

    def name(self) -> Text:
        return "action_emergency"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker,
               domain: Dict[Text, Any]) -> List[EventType]:
        emergency = emergency_messages(red_flag_kinds(tracker))
        follow_on = self._follow_on_intent(tracker)
        if follow_on:
            q = read_question(tracker, follow_on)
            normal = answer_messages(q)
            # Only a clear answer goes with emergency advice, never a question back.
            if normal.topic and not any(m.get("buttons") for m in normal.messages):
                send(dispatcher, emergency[:-1] + normal.messages[:-1] + emergency[-1:])
                return context_events(q, tracker, normal.topic)
        send(dispatcher, emergency)
        return []

    @staticmethod
    def _follow_on_intent(tracker: Tracker) -> Optional[str]:
        for ranked in tracker.latest_message.get("intent_ranking", [])[:2]:
            name = ranked.get("name") or ""
            if name.startswith("ask_") and is_topic(name[4:]) and name != "ask_overdose" \
                    and (ranked.get("confidence") or 0) >= MIN_FOLLOW_ON_CONFIDENCE:
                return name
        return None


class ActionSources(SafeAction):
    def name(self) -> Text:
        return "action_sources"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker,
               domain: Dict[Text, Any]) -> List[EventType]:
        v = store.version()
        dispatcher.utter_message(text=(
            "My answers come only from a curated knowledge base written from the US FDA labels for "
            "baclofen products, with a few named UK, Canadian and device-maker sources. Every answer "
            "shows its source. "
            f"Knowledge base version {v.version}, built {v.built_at}, {v.entry_count} entries."))
        return []


class ActionAskAffirmation(SafeAction):
    """Two-stage fallback, first stage: offer the likeliest answers (or topics) as buttons."""

    def name(self) -> Text:
        return "action_default_ask_affirmation"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker,
               domain: Dict[Text, Any]) -> List[EventType]:
        q = read_question(tracker)
        decision = select.decide(q.ranking, _meta(), q.context())
        candidates = decision.candidates or decision.answer
        if candidates:
            send(dispatcher, clarify(candidates, NOT_SURE_PROMPT))
            return []
        buttons = []
        for ranked in tracker.latest_message.get("intent_ranking", []):
            name = ranked.get("name") or ""
            if name.startswith("ask_") and name[4:] in TOPIC_TITLES:
                buttons.append({"title": TOPIC_TITLES[name[4:]], "payload": f"/{name}"})
            if len(buttons) == 3:
                break
        if not buttons:
            buttons = [{"title": TOPIC_TITLES[t], "payload": f"/ask_{t}"}
                       for t in ("dosage", "side_effects", "interactions")]
        buttons.append(SOMETHING_ELSE)
        dispatcher.utter_message(text=NOT_SURE_PROMPT, buttons=buttons)
        return []


class ActionAskRephrase(SafeAction):
    """Two-stage fallback, second stage: none of the offered choices fitted."""

    def name(self) -> Text:
        return "action_default_ask_rephrase"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker,
               domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(text=compose.REPHRASE)
        return []


class ActionDefaultFallback(SafeAction):
    """The last resort, after a rephrased question was not understood either."""

    def name(self) -> Text:
        return "action_default_fallback"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker,
               domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(text=compose.STILL_NOT_UNDERSTOOD,
                                 buttons=[{"title": "What can you do?", "payload": "/capabilities"}])
        # As Rasa's own default fallback: the message that was not understood is undone.
        return [UserUtteranceReverted()]
