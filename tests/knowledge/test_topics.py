"""The topic vocabulary (knowledge/topics.py) is what intents, rules and content share."""

from pathlib import Path

import yaml

from knowledge.topics import EMERGENCY, RED_FLAG_KINDS, TOPICS, is_topic
from safety import red_flags

ROOT = Path(__file__).resolve().parents[2]


def test_every_topic_has_its_intent_and_a_rule_that_answers_it():
    domain = yaml.safe_load((ROOT / "bot/domain.yml").read_text())
    rules = yaml.safe_load((ROOT / "data/rules/knowledge.yml").read_text())["rules"]
    answered = {step["intent"] for rule in rules for step in rule["steps"] if "intent" in step}
    for topic in TOPICS:
        assert f"ask_{topic}" in domain["intents"], topic
        assert f"ask_{topic}" in answered, topic


def test_emergency_is_not_an_answerable_topic():
    assert EMERGENCY not in TOPICS and not is_topic(EMERGENCY)
    assert not is_topic(None) and not is_topic("no_such_topic") and is_topic("pump")


def test_red_flag_kinds_are_the_detectors_kinds():
    assert set(RED_FLAG_KINDS) == set(red_flags.KINDS)
