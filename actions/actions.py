"""Rasa custom actions: decide WHICH knowledge to show; compose.py decides HOW.

Every action derives from SafeAction, whose run() never raises: Rasa drops the
whole reply of an action that raises, so a failure becomes a safe apology.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import compose
from knowledge import store
from knowledge.store import Entry
from knowledge.topics import POPULATIONS, TOPICS, topic_of_aspect
from safety import personal_dosing

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
# Subtopics shown with every answer of their topic.
ALWAYS_INCLUDED = {"overdose": "what_to_do"}
MIN_FOLLOW_ON_CONFIDENCE = 0.6
MAX_DRUGS = 3


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
            return self.answer(dispatcher, tracker, domain)
        except Exception:  # noqa: BLE001 - by design: a medical bot must never go silent
            log.exception("action %s failed; sending the safe apology", self.name())
            dispatcher.messages.clear()  # no half answer before the apology
            send(dispatcher, compose.apology())
            return []


def send(dispatcher: CollectingDispatcher, messages: Sequence[compose.Message]) -> None:
    for m in messages:
        dispatcher.utter_message(text=m["text"], buttons=m.get("buttons") or [])


@dataclass
class Question:
    """What the latest message asks, with context from the conversation filled in."""

    intent: str
    text: str
    topic: Optional[str]
    drugs: List[str]
    aspects: List[str]
    population: Optional[str]
    form: Optional[str]


def entity_values(tracker: Tracker, entity: str) -> List[str]:
    values = [e.get("value") for e in tracker.latest_message.get("entities", [])
              if e.get("entity") == entity and e.get("value")]
    return list(dict.fromkeys(str(v) for v in values))


def read_question(tracker: Tracker, intent: Optional[str] = None) -> Question:
    intent = intent or (tracker.latest_message.get("intent") or {}).get("name") or ""
    text = tracker.latest_message.get("text") or ""
    drugs = entity_values(tracker, "drug")
    populations = entity_values(tracker, "population")
    forms = entity_values(tracker, "form")
    topic: Optional[str] = intent[len("ask_"):] if intent.startswith("ask_") else None
    population = populations[0] if populations else None
    form = forms[0] if forms else None
    aspects = entity_values(tracker, "aspect")
    if intent == "follow_up":
        topic = tracker.get_slot("topic")
        if drugs and topic != "interactions":
            topic = "interactions"  # "what about with oxycodone?" is about combining medicines
        elif aspects and not any(a in TOPICS.get(topic or "", ()) for a in aspects):
            # "how often is it refilled?" → pump; a bare "dose?" → dosage
            topic = next((t for t in map(topic_of_aspect, aspects) if t), topic)
        if topic is None and form == "intrathecal":
            topic = "pump"  # "tell me about the pump" with nothing before it is a pump question
        if not drugs and topic == "interactions":
            drugs = list(tracker.get_slot("drug") or [])[-MAX_DRUGS:] if not (populations or forms) else []
        if topic == tracker.get_slot("topic"):
            population = population or tracker.get_slot("population")
            form = form or tracker.get_slot("form")
    if topic not in TOPICS or topic == "emergency":
        topic = None
    return Question(intent, text, topic, drugs[:MAX_DRUGS], aspects, population, form)


def candidate_subtopics(q: Question) -> List[str]:
    """Most specific first: who it is for, then what aspect, then which form."""
    assert q.topic
    wanted = [q.population, *q.aspects, q.form]
    return [s for s in dict.fromkeys(w for w in wanted if w) if s in TOPICS[q.topic]]


def topic_entries(q: Question, limit: int = 2) -> List[Entry]:
    assert q.topic
    found: List[Entry] = []
    for sub in candidate_subtopics(q):
        found += [e for e in store.entries(q.topic, [sub]) if e.subtopic == sub]
    if q.population in ("pregnancy", "breastfeeding") and q.topic != "pregnancy":
        found += store.entries("pregnancy", [q.population])
    chosen = _dedupe(found)[:limit] or store.entries(q.topic, ["overview"])[:limit]
    # Some answers are never complete without what to do (e.g. overdose → call Poison Control).
    always = ALWAYS_INCLUDED.get(q.topic)
    if always and all(e.subtopic != always for e in chosen):
        chosen += store.entries(q.topic, [always])
    return _dedupe(chosen)


def _dedupe(entries: Sequence[Entry]) -> List[Entry]:
    return list({e.id: e for e in entries}.values())


def interaction_messages(q: Question) -> List[compose.Message]:
    """One answer per named medicine; the label's general warning when none is named."""
    if not q.drugs:
        overview = store.entries("interactions", ["overview"])
        return compose.compose(
            overview, "pharmacist",
            note="Which other medicine do you mean? Tell me its name (for example "
                 "\"oxycodone\" or \"Xanax\") and I'll tell you what our sources say.")
    entries: List[Entry] = []
    notes: List[str] = []
    for drug in q.drugs:
        result = store.interaction(drug)
        if result.known:
            entries.extend(result.entries)
            notes.append(drug_intro(result.match))
        else:
            notes.append(result.text)
    preface = " ".join(n for n in notes if n) or None
    return compose.compose(entries, "pharmacist", preface=preface)


def drug_intro(match: Optional[store.DrugMatch]) -> str:
    """Say how we read the name ("oxycontin" → oxycodone, an opioid) so a wrong match is visible."""
    if match is None or not match.class_name:
        return ""
    if match.drug_name:
        return f"{match.drug_name[:1].upper()}{match.drug_name[1:]} belongs to the group: {match.class_name}."
    return f"About {match.class_name}:"


def clarify_topic(q: Question) -> List[compose.Message]:
    """A follow-up with nothing to follow: try text search, else offer topics as buttons."""
    hits = store.search(q.text, limit=2) if q.text and not q.text.startswith("/") else []
    if hits:
        return compose.compose(hits, "clinician")
    extra = f'{{"population": "{q.population}"}}' if q.population in POPULATIONS else ""
    topics = ["dosage", "side_effects", "interactions", "pump"]
    return [{"text": "What would you like to know about baclofen?",
             "buttons": [{"title": TOPIC_TITLES[t], "payload": f"/ask_{t}{extra}"} for t in topics]}]


def answer_messages(q: Question) -> List[compose.Message]:
    """The normal (non-emergency) answer to a knowledge question."""
    if personal_dosing.is_conversion_request(q.text):
        return compose.compose(store.entries("pump", ["dosage"]), "pump_team", preface=CONVERSION_PREFACE)
    if q.drugs and q.topic in (None, "dosage", "how_to_take"):
        # "how much ibuprofen can I take with baclofen?" is about combining medicines.
        return interaction_messages(q)
    if personal_dosing.is_personal_dosing_request(q.text) and q.topic in (None, "dosage", "pump"):
        topic = "pump" if q.topic == "pump" or q.form == "intrathecal" else "dosage"
        # A child's or kidney patient's question gets that group's entry, not the adult maximum.
        subs = ["dosage"] if topic == "pump" else [q.population or "maximum"]
        entries = [e for s in subs if s for e in store.entries(topic, [s]) if e.subtopic == s]
        return compose.compose(_dedupe(entries) or store.entries(topic, ["overview"]),
                               AUDIENCE[topic], preface=PERSONAL_DOSE_PREFACE)
    if q.topic is None:
        return clarify_topic(q)
    if q.topic == "interactions":
        return interaction_messages(q)
    return compose.compose(topic_entries(q), AUDIENCE.get(q.topic, "clinician"))


def context_events(q: Question, tracker: Tracker) -> List[EventType]:
    """Remember the topic; forget what belonged to the previous topic."""
    if q.topic is None:
        return []
    events: List[EventType] = [SlotSet("topic", q.topic)]
    if q.topic != tracker.get_slot("topic"):
        for slot, current in (("population", q.population), ("form", q.form)):
            events.append(SlotSet(slot, current))
        if q.topic != "interactions":
            events.append(SlotSet("drug", None))
    events.append(SlotSet("aspect", None))  # an aspect belongs to one question only
    return events


class ActionAnswer(SafeAction):
    def name(self) -> Text:
        return "action_answer"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker,
               domain: Dict[Text, Any]) -> List[EventType]:
        q = read_question(tracker)
        send(dispatcher, answer_messages(q))
        return context_events(q, tracker)


class ActionEmergency(SafeAction):
    """Emergency advice first; then, when the message also asked something clear, its answer."""

    def name(self) -> Text:
        return "action_emergency"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker,
               domain: Dict[Text, Any]) -> List[EventType]:
        kinds = entity_values(tracker, "red_flag") or ["general"]
        advice = _dedupe([e for k in kinds for e in store.entries("emergency", [k])])
        if not advice:
            advice = store.entries("emergency", ["general"])
        follow_on = self._follow_on_intent(tracker)
        if follow_on:
            q = read_question(tracker, follow_on)
            normal = answer_messages(q)[:-1]  # its own disclaimer is replaced by the emergency one
            messages = compose.compose([], "emergency", emergency=advice)
            send(dispatcher, messages[:-1] + normal + messages[-1:])
            return context_events(q, tracker)
        send(dispatcher, compose.compose([], "emergency", emergency=advice))
        return []

    @staticmethod
    def _follow_on_intent(tracker: Tracker) -> Optional[str]:
        for ranked in tracker.latest_message.get("intent_ranking", [])[:2]:
            name = ranked.get("name") or ""
            if name.startswith("ask_") and name[4:] in TOPICS and name != "ask_overdose" \
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
    """Two-stage fallback, first stage: offer the likeliest topics as buttons."""

    def name(self) -> Text:
        return "action_default_ask_affirmation"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker,
               domain: Dict[Text, Any]) -> List[EventType]:
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
        buttons.append({"title": "Something else", "payload": "/out_of_scope"})
        dispatcher.utter_message(text="Sorry, I'm not sure I understood. Is your question about one of these?",
                                 buttons=buttons)
        return []
