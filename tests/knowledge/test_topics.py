"""Which topic a bare aspect is about (knowledge/topics.py), shared by NLU and actions."""

import pytest

from knowledge.topics import TOPICS, topic_of_aspect


@pytest.mark.parametrize("aspect, topic", [
    ("dosage", "dosage"),        # a pump subtopic too, but "dose?" is the dosage topic
    ("overdose", "overdose"),    # likewise
    ("refill", "pump"),          # only the pump topic has it
    ("newborn", "pregnancy"),
])
def test_an_aspect_belongs_to_the_topic_it_names_or_its_only_owner(aspect, topic):
    assert topic_of_aspect(aspect) == topic


@pytest.mark.parametrize("aspect", ["overview", "withdrawal", "intrathecal", "general", "no_such_aspect"])
def test_shared_unknown_and_emergency_aspects_belong_to_no_topic(aspect):
    """withdrawal: stopping and pump; intrathecal: many; general: emergency kinds only."""
    assert topic_of_aspect(aspect) is None


def test_emergency_is_never_reached_through_an_aspect():
    assert all(topic_of_aspect(a) != "emergency" for subs in TOPICS.values() for a in subs)
