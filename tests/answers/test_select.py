"""The decision for one question (answers/select.py): answer, clarify, or nothing."""

from __future__ import annotations

from answers import select
from answers.select import Context, EntryMeta, decide, decide_parts

META = {m.id: m for m in [
    EntryMeta("dose-max", "dosage", "maximum", "Maximum daily dose"),
    EntryMeta("dose-children", "dosage", "children", "Children's doses in US labels"),
    EntryMeta("dose-children-uk", "dosage", "children", "Children's doses in the UK"),
    EntryMeta("dose-overview", "dosage", "overview", "Usual doses"),
    EntryMeta("pump-heat", "pump", "heat", "Heat, saunas and hot tubs"),
    EntryMeta("pump-overview", "pump", "overview", "What the pump is"),
    EntryMeta("alcohol", "interactions", "alcohol", "Alcohol"),
]}


def test_a_clear_winner_is_the_answer():
    d = decide([("dose-max", 0.7), ("dose-overview", 0.1)], META)
    assert d.answer == ("dose-max",) and d.confident


def test_a_close_call_between_different_answers_asks_which_one():
    d = decide([("pump-heat", 0.35), ("pump-overview", 0.3), ("alcohol", 0.2)], META)
    assert not d.confident
    assert d.candidates[:2] == ("pump-heat", "pump-overview")


def test_a_flat_ranking_is_no_evidence_even_when_its_top_share_is_large():
    """Two entries at 3 % each: the best has half the shares, but the ranker knows nothing."""
    d = decide([("dose-max", 0.05), ("alcohol", 0.01)], META)
    assert not d.confident


def test_two_entries_that_say_more_about_the_same_thing_are_shown_together():
    d = decide([("dose-children", 0.45), ("dose-children-uk", 0.42)], META)
    assert d.answer == ("dose-children", "dose-children-uk")


def test_the_person_in_the_conversation_prefers_their_entry_and_holds_back_others():
    ranking = [("dose-overview", 0.3), ("dose-children", 0.3)]
    assert decide(ranking, META, Context(population="children")).answer[0] == "dose-children"
    # Nobody mentioned a child: the children's entry is held back.
    shares = dict(select.adjusted([("dose-max", 0.3), ("dose-children", 0.3)], META, Context()))
    assert shares["dose-max"] > shares["dose-children"]


def test_a_follow_up_leans_to_the_previous_topic_and_the_intent_counts():
    ranking = [("alcohol", 0.4), ("dose-max", 0.35)]
    first = lambda context: select.adjusted(ranking, META, context)[0][0]  # noqa: E731
    assert first(Context()) == "alcohol"
    assert first(Context(follow_up=True, previous_topic="dosage")) == "dose-max"
    assert first(Context(topic_probabilities={"dosage": 0.9, "interactions": 0.05})) == "dose-max"


def test_ids_the_knowledge_base_no_longer_has_are_ignored():
    d = decide([("gone", 0.9), ("dose-max", 0.5)], META)
    assert d.answer == ("dose-max",)
    assert decide([], META) == select.Decision()


def test_two_parts_answered_by_different_entries_are_two_answers():
    parts = [[("alcohol", 0.8)], [("dose-max", 0.7)]]
    assert [d.answer for d in decide_parts(parts, META)] == [("alcohol",), ("dose-max",)]
    assert decide_parts([[("alcohol", 0.8)], [("alcohol", 0.7)]], META) is None  # the same answer twice
    assert decide_parts([[("alcohol", 0.8)], [("pump-heat", 0.3), ("pump-overview", 0.3)]], META) is None
