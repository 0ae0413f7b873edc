"""Custom actions run with CollectingDispatcher on JSON tracker fixtures (as in Rasa's
reference assistants), against the real knowledge base built from knowledge/content."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, List

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import actions, compose
from knowledge import store
from knowledge.topics import TOPICS

TRACKERS = Path(__file__).parent / "trackers"
KNOWLEDGE_INTENTS = [f"ask_{t}" for t in TOPICS if t != "emergency"]


def load_tracker(name: str) -> Tracker:
    return Tracker.from_dict(json.loads((TRACKERS / name).read_text()))


def tracker_for(text: str, intent: str, entities: List[Dict] = (), slots: Dict = None) -> Tracker:
    data = json.loads((TRACKERS / "side_effects.json").read_text())
    data["latest_message"].update(text=text, intent={"name": intent, "confidence": 0.9},
                                  entities=list(entities),
                                  intent_ranking=[{"name": intent, "confidence": 0.9}])
    data["slots"].update(slots or {})
    return Tracker.from_dict(data)


def run(action, tracker: Tracker):
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, tracker, {})
    return [m.get("text") or "" for m in dispatcher.messages], dispatcher.messages, events


def assert_medical_reply(texts: List[str]) -> None:
    assert texts, "empty reply"
    assert texts[-1].startswith(compose.DISCLAIMER_MARK), f"reply does not end with the disclaimer: {texts}"
    assert any("Source:" in t for t in texts[:-1]), f"no source line: {texts}"


@pytest.mark.parametrize("intent", KNOWLEDGE_INTENTS)
def test_every_knowledge_intent_answers_from_the_kb_with_source_and_disclaimer(intent):
    texts, _, events = run(actions.ActionAnswer(), tracker_for("tell me about it", intent))
    assert_medical_reply(texts)
    assert SlotSet("topic", intent[4:]) in events


def test_side_effects_overview_starts_with_drowsiness():
    texts, _, _ = run(actions.ActionAnswer(), load_tracker("side_effects.json"))
    assert_medical_reply(texts)
    assert re.search(r"sleepy|drows", texts[0], re.I), texts


def test_common_side_effects_give_label_frequencies():
    tracker = tracker_for("what are the common side effects?", "ask_side_effects",
                          entities=[{"entity": "aspect", "value": "common"}])
    texts, _, _ = run(actions.ActionAnswer(), tracker)
    assert_medical_reply(texts)
    assert re.search(r"10 to 63 in 100|10–63%", " ".join(texts)), texts


def test_follow_up_uses_topic_slot_for_serious_side_effects():
    texts, _, events = run(actions.ActionAnswer(), load_tracker("follow_up_serious.json"))
    assert_medical_reply(texts)
    serious = store.entries("side_effects", ["serious"])[0]
    assert serious.text.strip() in texts[0]
    assert SlotSet("topic", "side_effects") in events


def test_follow_up_for_children_gives_the_childrens_dosing_entry():
    texts, _, _ = run(actions.ActionAnswer(), load_tracker("follow_up_children.json"))
    children = store.entries("dosage", ["children"])[0]
    assert children.text.strip() in texts[0]
    assert_medical_reply(texts)


def test_follow_up_with_a_drug_answers_that_drugs_interaction():
    texts, _, events = run(actions.ActionAnswer(), load_tracker("follow_up_drug.json"))
    opioids = store.entries("interactions", ["opioids"])[0]
    assert any(opioids.text.strip() in t for t in texts), texts
    assert "pharmacist" in texts[-1]
    assert SlotSet("topic", "interactions") in events


def test_brand_name_resolves_to_its_class_entry():
    texts, _, _ = run(actions.ActionAnswer(), load_tracker("interaction_xanax.json"))
    benzo = store.entries("interactions", ["benzodiazepines"])[0]
    assert any(benzo.text.strip() in t for t in texts), texts
    assert_medical_reply(texts)


def test_drug_without_source_information_is_never_called_safe():
    texts, _, _ = run(actions.ActionAnswer(), load_tracker("interaction_unknown.json"))
    joined = " ".join(texts).lower()
    assert "no interaction information for ibuprofen" in joined
    assert "pharmacist" in joined
    assert not re.search(r"\bsafe\b", joined.replace("unsafe", ""))
    assert texts[-1].startswith(compose.DISCLAIMER_MARK)


@pytest.mark.parametrize("fixture", ["personal_double.json", "personal_child.json"])
def test_personal_dosing_gets_label_facts_and_referral_never_a_yes(fixture):
    texts, _, _ = run(actions.ActionAnswer(), load_tracker(fixture))
    assert texts[0] == actions.PERSONAL_DOSE_PREFACE
    joined = " ".join(texts)
    assert not re.match(r"\s*(yes|sure|ok)\b", joined, re.I)
    assert "prescriber" in texts[-1]
    assert_medical_reply(texts)


def test_double_dose_question_states_the_80_mg_maximum():
    texts, _, _ = run(actions.ActionAnswer(), load_tracker("personal_double.json"))
    assert "80 mg" in " ".join(texts)


def test_oral_to_pump_conversion_is_refused():
    tracker = tracker_for("how do I convert my oral dose to the pump dose?", "ask_pump")
    texts, _, _ = run(actions.ActionAnswer(), tracker)
    assert texts[0] == actions.CONVERSION_PREFACE
    assert_medical_reply(texts)


def test_pump_refill_question_gets_the_refill_entry_and_pump_team_line():
    texts, _, _ = run(actions.ActionAnswer(), load_tracker("pump_refill.json"))
    refill = store.entries("pump", ["refill"])[0]
    assert refill.text.strip() in texts[0]
    assert "pump team" in texts[-1]


def test_emergency_advice_comes_first_with_poison_control():
    texts, _, _ = run(actions.ActionEmergency(), load_tracker("emergency_overdose.json"))
    assert texts[0].startswith(compose.EMERGENCY_MARK)
    assert "1-800-222-1222" in texts[0] + texts[1]
    assert texts[-1].startswith(compose.DISCLAIMER_MARK)


def test_emergency_then_the_question_that_came_with_it():
    texts, _, _ = run(actions.ActionEmergency(), load_tracker("emergency_with_question.json"))
    assert texts[0].startswith(compose.EMERGENCY_MARK)
    refill = store.entries("pump", ["refill"])[0]
    assert any(refill.text.strip() in t for t in texts[1:]), texts
    assert texts[-1].startswith(compose.DISCLAIMER_MARK)


@pytest.mark.parametrize("kind", TOPICS["emergency"])
def test_every_red_flag_kind_has_emergency_advice(kind):
    tracker = tracker_for("help", "emergency", entities=[{"entity": "red_flag", "value": kind}])
    texts, _, _ = run(actions.ActionEmergency(), tracker)
    assert texts[0].startswith(compose.EMERGENCY_MARK)
    assert re.search(r"911|988|1-800-222-1222|emergency department|pump team|urgent", texts[0]), texts[0]
    assert texts[-1].startswith(compose.DISCLAIMER_MARK)


def test_fallback_offers_the_likeliest_topics_as_buttons():
    _, messages, _ = run(actions.ActionAskAffirmation(), load_tracker("fallback.json"))
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads[:2] == ["/ask_pump", "/ask_dosage"]
    assert payloads[-1] == "/out_of_scope"


def test_sources_action_names_the_knowledge_base_version():
    texts, _, _ = run(actions.ActionSources(), tracker_for("what version?", "ask_sources"))
    assert store.version().version in texts[0]


def test_a_new_topic_resets_context_from_the_old_one():
    tracker = tracker_for("what are the side effects?", "ask_side_effects",
                          slots={"topic": "dosage", "population": "children", "form": "liquid"})
    _, _, events = run(actions.ActionAnswer(), tracker)
    assert SlotSet("population", None) in events and SlotSet("form", None) in events


def test_database_outage_gives_a_safe_apology_not_silence(monkeypatch, tmp_path):
    monkeypatch.setenv("BACLOFEN_KB_URL", f"sqlite:///{tmp_path}/missing/knowledge.db")
    store.reset()
    try:
        texts, _, _ = run(actions.ActionAnswer(), load_tracker("side_effects.json"))
    finally:
        monkeypatch.undo()
        store.reset()
    assert texts == [compose.APOLOGY, compose.disclaimer("clinician")]
    assert "911" in texts[0]


def test_follow_up_whose_aspect_belongs_to_another_topic_switches_topic():
    tracker = tracker_for("how often is it refilled?", "follow_up",
                          entities=[{"entity": "aspect", "value": "refill"}],
                          slots={"topic": "side_effects"})
    texts, _, events = run(actions.ActionAnswer(), tracker)
    refill = store.entries("pump", ["refill"])[0]
    assert refill.text.strip() in texts[0]
    assert SlotSet("topic", "pump") in events


@pytest.mark.parametrize("aspect, topic", [("dosage", "dosage"), ("overdose", "overdose")])
def test_a_bare_aspect_that_names_a_topic_answers_that_topic_not_the_pump(aspect, topic):
    """"dose?" or "overdose" alone: the pump topic has such subtopics too, but the
    question is the whole topic's (its oral overview first)."""
    tracker = tracker_for(aspect, "follow_up", entities=[{"entity": "aspect", "value": aspect}],
                          slots={"topic": None})
    texts, _, events = run(actions.ActionAnswer(), tracker)
    assert_medical_reply(texts)
    overview = store.entries(topic, ["overview"])[0]
    assert overview.text.strip() in texts[0]
    assert SlotSet("topic", topic) in events


def test_a_dose_follow_up_inside_the_pump_topic_stays_with_the_pump():
    tracker = tracker_for("and the dose?", "follow_up", entities=[{"entity": "aspect", "value": "dosage"}],
                          slots={"topic": "pump"})
    texts, _, _ = run(actions.ActionAnswer(), tracker)
    assert store.entries("pump", ["dosage"])[0].text.strip() in texts[0]


def test_a_follow_up_naming_the_pump_with_nothing_before_it_is_a_pump_question():
    """Text search ranked the MRI and epidural-morphine entries first for "tell me about the pump"."""
    tracker = tracker_for("tell me about the pump", "follow_up",
                          entities=[{"entity": "form", "value": "intrathecal"}], slots={"topic": None})
    texts, _, events = run(actions.ActionAnswer(), tracker)
    assert_medical_reply(texts)
    assert store.entries("pump", ["overview"])[0].text.strip() in texts[0]
    assert SlotSet("topic", "pump") in events
