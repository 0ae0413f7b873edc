"""The learned safety net under the triage rules (safety/triage_net.py): it adds emergency
advice where the rules have no pattern yet, and keeps ordinary questions calm."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from safety import red_flags, triage_net
from tests.support.nlu import parse

ORDINARY = Path(__file__).parent / "ordinary.yml"
# Emergencies no rule covers today (checked below), in words people use.
NOT_IN_THE_RULES = {
    "hes gone a funny colour and is really cold and floppy": {"unresponsive", "overdose", "breathing"},
    "i have swallowed the lot, all of it": {"overdose", "self_harm"},
}


@pytest.fixture(scope="module")
def net() -> triage_net.TriageNet:
    built = triage_net.default_net(triage_net.net_dir())
    assert built is not None, "make build trains the net into build/triage_net"
    return built


@pytest.mark.parametrize("text", sorted(NOT_IN_THE_RULES))
def test_the_net_names_an_emergency_the_rules_miss(net, text):
    assert not red_flags.detect(text), "a rule covers this now: pick another example"
    assert net.kind(text) in NOT_IN_THE_RULES[text]


@pytest.mark.parametrize("text", sorted(NOT_IN_THE_RULES))
def test_such_a_message_gets_emergency_advice_through_the_nlu_pipeline(text):
    parsed = parse(text)
    assert parsed["intent"]["name"] == "emergency", parsed["intent"]
    assert any(e["entity"] == "red_flag" for e in parsed["entities"])


def test_ordinary_questions_with_alarming_words_stay_calm(net):
    messages = [m["text"] if isinstance(m, dict) else m for m in yaml.safe_load(ORDINARY.read_text())]
    raised = [m for m in messages if net.kind(m)]
    assert len(raised) <= 0.02 * len(messages), raised


def test_a_plain_question_is_no_emergency(net):
    for text in ("can i take baclofen with ibuprofen", "what are the side effects", "hi", ""):
        assert net.kind(text) is None, text


def test_without_a_built_net_the_rules_still_decide(tmp_path):
    assert triage_net.default_net(tmp_path / "missing") is None
    assert red_flags.detect("he is having a seizure right now")


def test_the_action_server_knows_the_nets_mark():
    from actions import actions

    assert actions.TRIAGE_NET == triage_net.EXTRACTOR


def test_the_hand_built_features_are_sklearns(net):
    """probabilities() builds the feature row by hand (0.2 ms instead of 1 ms); it must be
    the same row as the vectorizers' own transform."""
    import numpy as np

    for text in ("my legs are stiff this morning", "hes gone a funny colour", "", "x" * 3000):
        logits = np.asarray(triage_net._features(net.words, net.chars, [text]) @ net.coef_t).ravel() + net.intercept
        expected = np.exp(logits - logits.max())
        assert np.allclose(net.probabilities(text), expected / expected.sum(), atol=1e-12), text
