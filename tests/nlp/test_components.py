"""The Rasa components, constructed directly on real Messages."""

from pathlib import Path
from typing import Dict, List, Optional

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.language import Language

from nlp.components import LexiconEntityExtractor, RedFlagDetector


def message(text: Optional[str], intent: Optional[str] = None, ranking: Optional[List[Dict]] = None) -> Message:
    msg = Message(data={"text": text} if text is not None else {})
    if intent:
        msg.set("intent", {"name": intent, "confidence": 0.8}, add_to_output=True)
        msg.set("intent_ranking", ranking or [{"name": intent, "confidence": 0.8}], add_to_output=True)
    return msg


def entities(msg: Message, entity_type: Optional[str] = None) -> List[Dict]:
    found = msg.get("entities", [])
    return [e for e in found if entity_type is None or e["entity"] == entity_type]


# --------------------------------------------------------------------------- extractor


def test_extractor_adds_lexicon_ids_with_rasa_fields(fixture_nlp: Language) -> None:
    extractor = LexiconEntityExtractor({}, nlp=fixture_nlp)
    text = "Can my 6 year old take Lioresal liquid with OxyContin?"
    [msg] = extractor.process([message(text)])
    assert [(e["entity"], e["value"]) for e in entities(msg)] == [
        ("population", "children"), ("form", "liquid"), ("drug", "oxycodone")]
    drug = entities(msg, "drug")[0]
    assert text[drug["start"]:drug["end"]] == "OxyContin"
    assert drug["extractor"] == "LexiconEntityExtractor"
    assert drug["confidence_entity"] == 1.0
    assert msg.as_dict(only_output_properties=True)["entities"] == entities(msg)


def test_extractor_never_reports_baclofen_as_a_drug(fixture_nlp: Language) -> None:
    [msg] = LexiconEntityExtractor({}, nlp=fixture_nlp).process([message("baclofen and lioresal")])
    assert entities(msg) == []


def test_extractor_keeps_other_entities_and_reports_each_value_once(fixture_nlp: Language) -> None:
    msg = message("oxycodone or percocet, and the max dose")
    msg.set("entities", [{"entity": "other", "value": "x", "start": 0, "end": 1}])
    LexiconEntityExtractor({}, nlp=fixture_nlp).process([msg])
    assert [(e["entity"], e["value"]) for e in entities(msg)] == [
        ("other", "x"), ("drug", "oxycodone"), ("aspect", "maximum")]


@pytest.mark.parametrize("text", [None, "", "   ", "😀", "<b>" * 50])
def test_extractor_survives_odd_input(fixture_nlp: Language, text: Optional[str]) -> None:
    [msg] = LexiconEntityExtractor({}, nlp=fixture_nlp).process([message(text)])
    assert entities(msg) == []


def test_extractor_passes_training_data_through(fixture_nlp: Language) -> None:
    data = TrainingData([Message(data={"text": "oxycodone", "intent": "ask_interactions"})])
    assert LexiconEntityExtractor({}, nlp=fixture_nlp).process_training_data(data) is data
    assert "entities" not in data.training_examples[0].data


def test_components_are_created_from_a_pipeline_path(fixture_pipeline_path: Path, tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    config = {"pipeline_path": str(fixture_pipeline_path)}
    extractor = LexiconEntityExtractor.create(
        {**LexiconEntityExtractor.get_default_config(), **config}, storage, Resource("x"), context)
    detector = RedFlagDetector.create(
        {**RedFlagDetector.get_default_config(), **config}, storage, Resource("y"), context)
    [msg] = extractor.process([message("valium")])
    assert entities(msg, "drug")[0]["value"] == "diazepam"
    assert detector.detector.nlp is extractor.nlp  # one loaded pipeline, shared


def test_create_fails_loudly_without_a_pipeline(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        RedFlagDetector({"pipeline_path": str(tmp_path / "missing")})


# --------------------------------------------------------------------------- red flags


def test_red_flag_overrides_intent_and_keeps_the_original_second(fixture_nlp: Language) -> None:
    ranking = [{"name": "ask_pump", "confidence": 0.8}, {"name": "ask_side_effects", "confidence": 0.1},
               {"name": "emergency", "confidence": 0.05}]
    msg = message("my pump is beeping and he is really itchy", "ask_pump", ranking)
    RedFlagDetector({}, nlp=fixture_nlp).process([msg])
    assert msg.get("intent") == {"name": "emergency", "confidence": 1.0}
    assert [r["name"] for r in msg.get("intent_ranking")] == ["emergency", "ask_pump", "ask_side_effects"]
    kinds = [e["value"] for e in entities(msg, "red_flag")]
    assert kinds == ["pump_withdrawal", "pump_alarm"]
    flag = entities(msg, "red_flag")[0]
    assert flag["extractor"] == "RedFlagDetector" and flag["confidence_entity"] == 1.0
    output = msg.as_dict(only_output_properties=True)
    assert output["intent"]["name"] == "emergency" and "intent_ranking" in output


def test_red_flag_after_a_fallback_keeps_the_fallback_second(fixture_nlp: Language) -> None:
    msg = message("she just had a seizure", "nlu_fallback")
    RedFlagDetector({}, nlp=fixture_nlp).process([msg])
    assert [r["name"] for r in msg.get("intent_ranking")] == ["emergency", "nlu_fallback"]
    assert [e["value"] for e in entities(msg, "red_flag")] == ["seizure"]


def test_red_flag_without_any_classifier_output(fixture_nlp: Language) -> None:
    msg = message("I took 20 tablets")
    RedFlagDetector({}, nlp=fixture_nlp).process([msg])
    assert msg.get("intent")["name"] == "emergency"
    assert msg.get("intent_ranking") == [{"name": "emergency", "confidence": 1.0}]


def test_no_red_flag_leaves_the_message_alone(fixture_nlp: Language) -> None:
    msg = message("what are the signs of an overdose?", "ask_overdose")
    before = dict(msg.data)
    RedFlagDetector({}, nlp=fixture_nlp).process([msg])
    assert msg.data == before


@pytest.mark.parametrize("text", [None, "", "\x00\x01", "🙂" * 1000, "a " * 20000])
def test_red_flag_component_never_raises(fixture_nlp: Language, text: Optional[str]) -> None:
    [msg] = RedFlagDetector({}, nlp=fixture_nlp).process([message(text, "greet")])
    assert msg.get("intent")["name"] == "greet"


# --------------------------------------------------------------------- scope and demotion


def test_classifier_only_emergency_gives_way_to_the_next_intent(fixture_nlp: Language) -> None:
    ranking = [{"name": "emergency", "confidence": 0.9}, {"name": "ask_stopping", "confidence": 0.08}]
    msg = message("can i quit baclofen now i feel fine", "emergency", ranking)
    msg.set("intent", ranking[0], add_to_output=True)
    RedFlagDetector({"pipeline_path": None}, nlp=fixture_nlp).process([msg])
    assert msg.get("intent")["name"] == "nlu_fallback"  # next intent too unsure → clarify
    ranking[1]["confidence"] = 0.7
    msg2 = message("can i quit baclofen now i feel fine", "emergency", [dict(r) for r in ranking])
    msg2.set("intent", ranking[0], add_to_output=True)
    RedFlagDetector({"pipeline_path": None}, nlp=fixture_nlp).process([msg2])
    assert msg2.get("intent")["name"] == "ask_stopping"


def test_intent_rules_send_other_drug_questions_out_of_scope() -> None:
    from nlp.components import IntentRules
    guard = IntentRules({"pipeline_path": None})
    asked = message("whats the normal dose of lisinopril", "ask_dosage")
    kept = message("can I take it with xanax", "ask_dosage")
    own = message("what is the usual dose of lioresal", "ask_dosage")
    guard.process([asked, kept, own])
    assert asked.get("intent")["name"] == "out_of_scope"
    assert kept.get("intent")["name"] == "ask_dosage"
    assert own.get("intent")["name"] == "ask_dosage"


def test_intent_rules_turn_baclofen_plus_drug_into_interactions_and_rescue_aspects() -> None:
    from nlp.components import IntentRules
    rules = IntentRules({"pipeline_path": None})
    assert rules.corrected_intent("out_of_scope", "how much ibuprofen can I take with baclofen?") == "ask_interactions"
    assert rules.corrected_intent("nlu_fallback", "how often is it refilled?") == "follow_up"
    assert rules.corrected_intent("out_of_scope", "is it ever given for alcohol use disorder?") == "follow_up"
    assert rules.corrected_intent("nlu_fallback", "blorp the weather") is None
    assert rules.corrected_intent("out_of_scope", "what's the weather like") is None
    assert rules.corrected_intent("ask_pump", "how often is it refilled?") is None
    assert rules.corrected_intent("nlu_fallback", "what about travelling abroad with my pump") == "follow_up"
    assert rules.corrected_intent("nlu_fallback", "and what if I also have a glass of wine?") == "follow_up"
    assert rules.corrected_intent("nlu_fallback", "what could happen to the newborn?") == "follow_up"
    assert rules.corrected_intent("out_of_scope", "what could happen to the newborn?") is None
    assert rules.corrected_intent("nlu_fallback", "dose?") == "follow_up"  # the action answers dosage


def test_intent_rules_keep_baclofen_and_another_substance_in_scope_but_not_the_others_dose() -> None:
    """ "is it like valium?" and "wine on it" are about baclofen; "tizanidine 4mg, how many
    times a day can I take it" is tizanidine's own dosing."""
    from nlp.components import IntentRules
    rules = IntentRules({"pipeline_path": None})
    about = {"id": "about-not-benzodiazepine", "score": 0.97, "topic": "about"}
    assert rules.corrected_intent("out_of_scope", "is it like valium", 0.96, about) == "ask_about"
    weight = {"id": "side-effects-weight-gain", "score": 0.5, "topic": "side_effects"}
    assert rules.corrected_intent("out_of_scope", "can I have a glass of wine on it and will it make me put on weight?",
                                  0.65, weight) == "ask_interactions"
    relaxants = {"id": "interactions-muscle-relaxants", "score": 0.7, "topic": "interactions"}
    assert rules.corrected_intent("out_of_scope", "tizanidine 4mg how many times a day can I take it",
                                  0.9, relaxants) is None


def test_intent_rules_never_read_a_warning_sign_as_small_talk() -> None:
    from nlp.components import IntentRules
    rules = IntentRules({"pipeline_path": None})
    assert rules.corrected_intent("goodbye", "now i have a fever") == "nlu_fallback"
    assert rules.corrected_intent("goodbye", "bye, thanks for your help") is None
    assert rules.corrected_intent("thank", "thanks, no fever so far") is None  # negated


# --------------------------------------------------------------------------- featurizer

def tokenized(text: str) -> Message:
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer

    msg = Message(data={"text": text})
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([msg])
    return msg


def lexicon_sentence_features(msg: Message) -> List[str]:
    _, sentence = msg.get_sparse_features("text")
    assert sentence is not None
    return sorted(int(c) for c in sentence.features.tocoo().col)


def test_featurizer_marks_the_kind_of_lexicon_word(fixture_nlp: Language) -> None:
    from nlp.components import LexiconFeaturizer

    featurizer = LexiconFeaturizer({**LexiconFeaturizer.get_default_config()}, nlp=fixture_nlp)
    drug, plain = tokenized("can I take baclofen with tizanidine"), tokenized("hello there")
    featurizer.process([drug, plain])
    names = {i: c for c, i in featurizer.columns.items()}
    assert {"BACLOFEN", "DRUG"} <= {names[c] for c in lexicon_sentence_features(drug)}
    assert lexicon_sentence_features(plain) == []
    seq, sentence = drug.get_sparse_features("text")
    assert seq is not None and sentence is not None
    assert seq.features.shape == (6, len(featurizer.columns))
    by_token = {int(r): set() for r in seq.features.row}
    for r, c in zip(seq.features.row, seq.features.col):
        by_token[int(r)].add(names[int(c)])
    assert set(by_token) == {3, 5}  # "baclofen" and "tizanidine" only
    assert "BACLOFEN" in by_token[3] and "DRUG" in by_token[5]
    assert sentence.features.shape == (1, len(featurizer.columns))


def test_one_parse_per_message_text_is_shared(fixture_nlp: Language) -> None:
    from nlp.pipeline import parse

    doc = parse(fixture_nlp, "baclofen and alcohol")
    assert parse(fixture_nlp, "baclofen and alcohol") is doc
    assert parse(fixture_nlp, "baclofen and wine") is not doc


def test_featurizer_failure_still_gives_full_width_features(fixture_nlp: Language) -> None:
    """The classifier needs the same width every time, or it would fail the whole message."""
    from nlp.components import LexiconFeaturizer

    class Broken:
        def __call__(self, text: str) -> None:
            raise RuntimeError("spaCy failed")

    featurizer = LexiconFeaturizer({**LexiconFeaturizer.get_default_config()}, nlp=Broken())  # type: ignore[arg-type]
    msg = tokenized("baclofen and tizanidine")
    featurizer.process([msg])
    _, sentence = msg.get_sparse_features("text")
    assert sentence is not None and sentence.features.shape == (1, len(featurizer.columns))
    assert sentence.features.nnz == 0
