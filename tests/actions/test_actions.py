"""Custom actions run with CollectingDispatcher on tracker fixtures (as in Rasa's reference
assistants), against the real knowledge base built from knowledge/content.

Trackers come two ways: JSON fixtures (tests/actions/trackers/) for exact, hand-made
turns, and `asked(...)`, which fills the latest message with what the trained model's NLU
makes of a sentence (intent ranking, entities and the entry ranking the action decides from).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import actions, compose
from knowledge import store
from knowledge.topics import RED_FLAG_KINDS, TOPICS
from tests.support.nlu import parse

TRACKERS = Path(__file__).parent / "trackers"
KNOWLEDGE_INTENTS = [f"ask_{t}" for t in TOPICS]
SOURCE_LINE = re.compile(r"^Source: .+\. Reviewed \d{1,2} [A-Z][a-z]{2} \d{4}\.$")


def load_tracker(name: str) -> Tracker:
    return Tracker.from_dict(json.loads((TRACKERS / name).read_text()))


def tracker_for(text: str, intent: str, entities: List[Dict] = (), slots: Dict = None) -> Tracker:
    data = json.loads((TRACKERS / "side_effects.json").read_text())
    data["latest_message"].update(text=text, intent={"name": intent, "confidence": 0.9},
                                  entities=list(entities),
                                  intent_ranking=[{"name": intent, "confidence": 0.9}])
    data["slots"].update(slots or {})
    return Tracker.from_dict(data)


def asked(text: str, slots: Optional[Dict] = None) -> Tracker:
    """A tracker whose latest message is the real NLU parse of `text`."""
    data = json.loads((TRACKERS / "side_effects.json").read_text())
    data["latest_message"] = parse(text)
    data["slots"].update(slots or {})
    return Tracker.from_dict(data)


def run(action, tracker: Tracker):
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, tracker, {})
    return [m.get("text") or "" for m in dispatcher.messages], dispatcher.messages, events


def shown(texts: List[str]) -> List[str]:
    """Ids of the entries whose text is in the reply, in reply order."""
    joined = " ".join(" ".join(t.split()) for t in texts)
    found = [(joined.find(" ".join(e.text.split())), e.id) for e in store.answerable()]
    return [i for at, i in sorted(found) if at >= 0]


def assert_medical_reply(texts: List[str]) -> None:
    assert texts, "empty reply"
    assert texts[-1].startswith(compose.DISCLAIMER_MARK), f"reply does not end with the disclaimer: {texts}"
    assert any("Source:" in t for t in texts[:-1]), f"no source line: {texts}"


def answer(text: str, slots: Optional[Dict] = None):
    return run(actions.ActionAnswer(), asked(text, slots))


# --------------------------------------------------------------------- replies


@pytest.mark.parametrize("intent", KNOWLEDGE_INTENTS)
def test_every_knowledge_intent_answers_from_the_kb_with_source_and_disclaimer(intent):
    """With nothing ranked (a vague "tell me about it"), the intent's topic overview answers."""
    texts, _, events = run(actions.ActionAnswer(), tracker_for("tell me about it", intent))
    assert_medical_reply(texts)
    assert SlotSet("topic", intent[4:]) in events


def test_one_answer_is_one_bubble_with_its_source_lines_then_the_disclaimer():
    texts, messages, _ = answer("what is the maximum daily dose of baclofen?")
    assert len(messages) == 2, texts  # the answer, then the disclaimer
    body, _, sources = texts[0].partition("\nSource: ")
    assert "80 mg" in body and "Source:" not in body
    for line in ("Source: " + sources).splitlines():
        assert SOURCE_LINE.match(line), line
    assert "[FDA label for baclofen tablets](https://dailymed.nlm.nih.gov/" in sources
    assert "prescriber" in texts[1]


def test_the_issue_examples_get_the_entry_that_answers_them():
    cases = {
        "how long until it is out of my body": "body-out-of-body",
        "is there something that undoes it": "overdose-what-to-do-hospital",
        "what strengths are there": "forms-tablets",
        "can you get hooked on it": "warnings-dependence-us",
        "is it an opiate": "about-not-opioid",
        "is it like valium": "about-not-benzodiazepine",
    }
    for question, entry in cases.items():
        texts, _, _ = answer(question)
        assert entry in shown(texts), f"{question!r} → {shown(texts)}"


def test_a_story_gets_the_concern_inside_it():
    texts, _, _ = answer("started it last week and I still feel like a zombie by lunchtime")
    assert "side-effects-drowsiness" in shown(texts), texts


def test_two_questions_at_once_get_two_answers():
    texts, messages, _ = answer("can I have a glass of wine on it and will it make me put on weight?")
    ids = shown(texts)
    assert "interactions-alcohol" in ids and "side-effects-weight-gain" in ids, ids
    assert len(messages) == 3 and texts[-1].startswith(compose.DISCLAIMER_MARK)


def test_a_follow_up_that_names_a_new_topic_switches_to_it_and_keeps_the_person():
    texts, _, events = answer("and what side effects should I watch for in him?",
                              {"topic": "dosage", "population": "children"})
    assert any(e.startswith("side-effects") for e in shown(texts)), texts
    assert SlotSet("topic", "side_effects") in events
    assert not any(getattr(e, "get", lambda k: None)("name") == "population" for e in events)  # kept


def test_the_person_named_earlier_chooses_their_entry_in_a_follow_up():
    texts, _, _ = answer("and what about the dose?", {"topic": "uses", "population": "children"})
    assert {"dosage-children", "dosage-children-uk"} & set(shown(texts)), texts


def test_a_short_follow_up_naming_a_form_asks_the_last_question_again_for_it():
    """ "and the liquid?" after a storage answer is about storing the liquid; after a forms
    answer, about the liquid form — the US entries, not the UK children's liquid."""
    texts, _, _ = answer("and the liquid?", {"topic": "storage"})
    assert shown(texts) and all(e.startswith("storage-") for e in shown(texts)), texts
    texts, _, _ = answer("and the liquid?", {"topic": "forms"})
    assert shown(texts)[0] == "forms-liquid", texts
    assert "forms-liquid-uk-children" not in shown(texts)


def test_a_short_follow_up_naming_a_brand_asks_the_last_question_again_for_it():
    """ "and ozobax?" after a storage answer used to get Ozobax's half-life."""
    texts, _, _ = answer("and ozobax?", {"topic": "storage"})
    assert shown(texts) == ["storage-oral-solution-ozobax"], texts
    texts, _, _ = answer("and fleqsuvy?", {"topic": "dosage"})
    assert shown(texts) and all(e.startswith("dosage-") for e in shown(texts)), texts
    # A follow-up that names a new topic is not the same question again.
    texts, messages, _ = answer("and what about side effects?", {"topic": "storage"})
    offered = shown(texts) + [b["payload"] for m in messages for b in m.get("buttons") or []]
    assert any("side-effects-" in o for o in offered) and not any("storage-" in o for o in offered), offered


def _after(previous: str, text: str) -> Tracker:
    """A tracker whose person said `previous`, then `text` (the real parse of `text`)."""
    data = json.loads((TRACKERS / "side_effects.json").read_text())
    data["latest_message"] = parse(text)
    data["events"] = [e for e in data["events"] if e.get("event") != "user"] + [
        {"event": "user", "text": previous, "parse_data": parse(previous)},
        {"event": "user", "text": text, "parse_data": data["latest_message"]},
    ]
    return Tracker.from_dict(data)


def _follow_up(previous: str, text: str, slots: Dict) -> List[str]:
    tracker = _after(previous, text)
    tracker.slots.update(slots)
    texts, _, _ = run(actions.ActionAnswer(), tracker)
    return shown(texts)


def test_a_follow_up_naming_only_a_person_asks_the_last_question_again_for_them():
    """ "and for her?" after "is it addictive" used to get the suicide warning; "what about
    for my son?" after alcohol, the general overview."""
    assert _follow_up("is it addictive", "and for her?", {"topic": "warnings"}) == ["warnings-dependence-us"]
    assert _follow_up("can I drink alcohol with baclofen?", "what about for my son?",
                      {"topic": "interactions", "drug": ["alcohol"]}) == ["interactions-alcohol"]


def test_a_follow_up_about_something_else_leaves_the_last_medicine():
    """ "what about grapefruit?" after alcohol used to get the alcohol answer again."""
    assert _follow_up("can she drink wine on it?", "what about grapefruit?",
                      {"topic": "interactions", "drug": ["alcohol"]}) == ["interactions-grapefruit"]


def test_a_brand_named_in_a_follow_up_means_its_form():
    """ "and ozobax?" after the pump's side effects used to get Ozobax's half-life."""
    assert _follow_up("what are the side effects of the pump?", "and ozobax?",
                      {"topic": "side_effects", "form": "intrathecal"}) == ["side-effects-overview"]
    assert actions.brand_forms("is Lyvispah ok through a g-tube") == ["granules"]
    assert actions.brand_forms("what about lioresal") == []  # tablets and intrathecal: no one form


def test_an_emergency_only_two_messages_together_show_comes_first():
    """ "my pump ran out on monday" … "now i have a fever": withdrawal advice first."""
    texts, _, _ = run(actions.ActionAnswer(), _after("my pump ran out on monday", "now i have a fever"))
    assert texts[0].startswith(compose.EMERGENCY_MARK), texts
    assert texts[-1].startswith(compose.DISCLAIMER_MARK), texts
    # Each message calm on its own, and calm together: no advice.
    texts, _, _ = run(actions.ActionAnswer(), _after("my pump was refilled last week", "what side effects can it have?"))
    assert not any(t.startswith(compose.EMERGENCY_MARK) for t in texts), texts


def test_a_conditional_question_gets_when_to_get_help_without_opening_as_an_emergency():
    """ "what if my pump alarm beeps?": the answer, then the warning signs with when to get
    help, then the disclaimer — never 🚨 first (issue 14's conditional level)."""
    texts, _, _ = answer("what if my pump alarm beeps?")
    assert not texts[0].startswith(compose.EMERGENCY_MARK), texts
    assert any(t.startswith(actions.WHEN_TO_GET_HELP) for t in texts), texts
    assert texts[-1].startswith(compose.DISCLAIMER_MARK)
    texts, _, _ = answer("what are the side effects?")
    assert not any(t.startswith(actions.WHEN_TO_GET_HELP) for t in texts), texts


def test_an_unclear_question_gets_a_clarifying_question_offering_answers_by_title():
    texts, messages, events = answer("what about the other thing")
    assert not shown(texts), texts
    buttons = messages[0]["buttons"]
    payloads = [b["payload"] for b in buttons]
    assert all(p.startswith('/follow_up{"entry": ') for p in payloads[:-1]) or payloads[0].startswith("/ask_")
    assert payloads[-1] == "/deny" or payloads[0].startswith("/ask_")
    assert not any(isinstance(e, dict) and e.get("name") == "topic" for e in events)


def test_a_chosen_answer_is_shown():
    tracker = tracker_for('/follow_up{"entry": "pump-heat"}', "follow_up",
                          entities=[{"entity": "entry", "value": "pump-heat"}])
    texts, _, events = run(actions.ActionAnswer(), tracker)
    assert shown(texts) == ["pump-heat"]
    assert SlotSet("topic", "pump") in events and "pump team" in texts[-1]


def test_a_chosen_answer_that_no_longer_exists_is_not_shown():
    tracker = tracker_for("/follow_up", "follow_up", entities=[{"entity": "entry", "value": "no-such-entry"}])
    texts, _, _ = run(actions.ActionAnswer(), tracker)
    assert texts  # it answers the follow-up another way, never with a missing entry
    assert "no-such-entry" not in " ".join(texts)


def test_side_effects_overview_starts_with_drowsiness():
    texts, _, _ = run(actions.ActionAnswer(), load_tracker("side_effects.json"))
    assert_medical_reply(texts)
    assert re.search(r"sleepy|drows", texts[0], re.I), texts


# -------------------------------------------------------------- other medicines


def test_brand_name_resolves_to_its_class_entry():
    texts, _, _ = run(actions.ActionAnswer(), load_tracker("interaction_xanax.json"))
    benzo = store.entries("interactions", ["benzodiazepines"])[0]
    assert any(benzo.text.strip() in t for t in texts), texts
    assert "do not name alprazolam itself" in texts[0]
    assert_medical_reply(texts)


def test_a_drug_with_its_own_entry_gets_it_without_the_class_preface():
    texts, _, _ = answer("is it ok to take tramadol with baclofen?")
    assert "interactions-tramadol" in shown(texts), texts
    assert "do not name" not in texts[0]


def test_drug_without_source_information_is_never_called_safe():
    texts, _, _ = run(actions.ActionAnswer(), load_tracker("interaction_unknown.json"))
    joined = " ".join(texts).lower()
    assert "no interaction information for ibuprofen" in joined
    assert "pharmacist" in joined
    assert not re.search(r"\bsafe\b", joined.replace("unsafe", ""))
    assert texts[-1].startswith(compose.DISCLAIMER_MARK)


def test_follow_up_with_a_drug_answers_that_drugs_interaction():
    texts, _, events = run(actions.ActionAnswer(), load_tracker("follow_up_drug.json"))
    opioids = store.entries("interactions", ["opioids"])[0]
    assert any(opioids.text.strip() in t for t in texts), texts
    assert "pharmacist" in texts[-1]
    assert SlotSet("topic", "interactions") in events


# ------------------------------------------------------------------ doses


@pytest.mark.parametrize("fixture", ["personal_double.json", "personal_child.json"])
def test_personal_dosing_gets_label_facts_and_referral_never_a_yes(fixture):
    texts, _, _ = run(actions.ActionAnswer(), load_tracker(fixture))
    assert texts[0].startswith(actions.PERSONAL_DOSE_PREFACE)
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
    assert texts[0].startswith(actions.CONVERSION_PREFACE)
    assert_medical_reply(texts)


# ------------------------------------------------------------------ pump


def test_pump_refill_question_gets_the_refill_entry_and_pump_team_line():
    texts, _, _ = answer("how often does the pump need refilling?")
    assert any(e.startswith("pump-refill") for e in shown(texts)), texts
    assert "pump team" in texts[-1]


# ------------------------------------------------------------------ emergencies


def test_emergency_advice_comes_first_with_poison_control():
    texts, _, _ = run(actions.ActionEmergency(), load_tracker("emergency_overdose.json"))
    assert texts[0].startswith(compose.EMERGENCY_MARK)
    assert "1-800-222-1222" in texts[0] + texts[1]
    assert texts[-1].startswith(compose.DISCLAIMER_MARK)


def test_emergency_then_the_question_that_came_with_it():
    texts, _, _ = run(actions.ActionEmergency(), load_tracker("emergency_with_question.json"))
    assert texts[0].startswith(compose.EMERGENCY_MARK)
    assert any(e.startswith("pump") for e in shown(texts[1:])), texts
    assert texts[-1].startswith(compose.DISCLAIMER_MARK)


@pytest.mark.parametrize("kind", RED_FLAG_KINDS)
def test_every_red_flag_kind_has_emergency_advice(kind):
    tracker = tracker_for("help", "emergency", entities=[{"entity": "red_flag", "value": kind}])
    texts, _, _ = run(actions.ActionEmergency(), tracker)
    assert texts[0].startswith(compose.EMERGENCY_MARK)
    assert re.search(r"911|988|1-800-222-1222|emergency department|pump team|urgent", texts[0]), texts[0]
    assert texts[-1].startswith(compose.DISCLAIMER_MARK)


# ------------------------------------------------------------------ fallback, sources, context


def test_fallback_offers_the_likeliest_answers_or_topics_as_buttons():
    _, messages, _ = run(actions.ActionAskAffirmation(), load_tracker("fallback.json"))
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads[:2] == ["/ask_pump", "/ask_dosage"]  # nothing ranked: the intents' topics
    assert payloads[-1] == "/deny"


def test_fallback_offers_ranked_answers_by_title_when_there_are_some():
    _, messages, _ = run(actions.ActionAskAffirmation(), asked("pump sauna question"))
    titles = [b["title"] for b in messages[0]["buttons"]]
    assert any("heat" in t.lower() or "sauna" in t.lower() for t in titles), titles


def test_sources_action_names_the_knowledge_base_version():
    texts, _, _ = run(actions.ActionSources(), tracker_for("what version?", "ask_sources"))
    assert store.version().version in texts[0]


def test_a_new_topic_resets_the_form_but_keeps_the_person():
    tracker = tracker_for("what are the side effects?", "ask_side_effects",
                          slots={"topic": "dosage", "population": "children", "form": "liquid"})
    _, _, events = run(actions.ActionAnswer(), tracker)
    assert SlotSet("form", None) in events
    assert not any(e.get("name") == "population" for e in events)


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


def test_rephrase_and_last_resort_are_actions_with_their_text():
    texts, _, _ = run(actions.ActionAskRephrase(), load_tracker("fallback.json"))
    assert texts == [compose.REPHRASE]
    texts, messages, events = run(actions.ActionDefaultFallback(), load_tracker("fallback.json"))
    assert texts == [compose.STILL_NOT_UNDERSTOOD] and messages[0]["buttons"][0]["payload"] == "/capabilities"
    assert events and events[0]["event"] == "rewind"


def test_something_named_that_our_sources_do_not_cover_is_said_so():
    """ "turmeric or ashwagandha?" used to get the general interactions answer, as if it
    covered them; a general question still gets it."""
    texts, _, _ = answer("does baclofen interact with turmeric or ashwagandha? I take both")
    assert not shown(texts), texts
    assert any(store.NO_INFORMATION.split("{name}")[0] in t and "pharmacist" in t for t in texts), texts
    assert_medical_reply([*texts[:-1], "Source: x", texts[-1]])  # ends with the disclaimer
    texts, _, _ = answer("are there any interactions i should know about")
    assert shown(texts) == ["interactions-overview"], texts
