"""The decision for one question (answers/select.py): answer, clarify, or nothing."""

from __future__ import annotations

from answers import select
from answers.select import Context, EntryMeta, decide

META = {m.id: m for m in [
    EntryMeta("dose-max", "dosage", "maximum", "Maximum daily dose"),
    EntryMeta("dose-children", "dosage", "children", "Children's doses in US labels"),
    EntryMeta("dose-children-uk", "dosage", "children", "Children's doses in the UK", region="UK"),
    EntryMeta("dose-overview", "dosage", "overview", "Usual doses"),
    EntryMeta("pump-heat", "pump", "heat", "Heat, saunas and hot tubs"),
    EntryMeta("pump-overview", "pump", "overview", "What the pump is"),
    EntryMeta("alcohol", "interactions", "alcohol", "Alcohol"),
    EntryMeta("forms-tablets", "forms", "tablets", "Tablet strengths"),
    EntryMeta("forms-liquid", "forms", "liquid", "Oral liquids"),
    EntryMeta("storage-heat", "storage", "heat", "Keeping it cool"),
    EntryMeta("driving", "driving", "overview", "Driving"),
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
    d = decide([("dose-children", 0.45), ("dose-children-uk", 0.5)], META)  # UK counts 0.75
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


def test_the_us_label_leads_when_two_entries_say_the_same_thing():
    d = decide([("dose-children-uk", 0.6), ("dose-children", 0.3)], META)
    assert d.answer == ("dose-children", "dose-children-uk")


def test_tablets_are_what_it_is_when_no_form_is_named():
    """ "what strengths are there": the tablets' entry is not held back like the liquid's."""
    d = decide([("forms-tablets", 0.3), ("forms-liquid", 0.2)], META)
    assert d.answer == ("forms-tablets",)
    assert decide([("forms-tablets", 0.3), ("forms-liquid", 0.2)], META, Context(form="liquid")).answer == ("forms-liquid",)


def test_a_general_answer_just_ahead_of_its_own_specific_one_answers():
    d = decide([("dose-overview", 0.5), ("dose-max", 0.4)], META)
    assert d.answer == ("dose-overview",)


def test_a_lower_share_far_ahead_of_every_other_answers():
    ranking = [("dose-max", 0.3), ("alcohol", 0.11), ("pump-heat", 0.11), ("pump-overview", 0.11),
               ("storage-heat", 0.11), ("driving", 0.11)]
    share = select.adjusted(ranking, META, Context())[0][1]
    assert share < select.ANSWER_MIN
    assert decide(ranking, META).answer == ("dose-max",)


def test_the_same_question_again_stays_on_the_previous_topic():
    """ "and ozobax?" after a storage answer: a storage entry, though the brand's name alone
    ranks another topic's entry far higher."""
    ranking = [("pump-heat", 0.6), ("storage-heat", 0.04), ("alcohol", 0.02)]
    assert decide(ranking, META, Context(previous_topic="storage", follow_up=True)).answer != ("storage-heat",)
    d = decide(ranking, META, Context(previous_topic="storage", follow_up=True, same_question=True))
    assert d.answer == ("storage-heat",)
    # Nothing of the previous topic ranked: the ranking decides as usual.
    d = decide([("pump-heat", 0.9), ("alcohol", 0.02)], META, Context(previous_topic="storage", same_question=True))
    assert d.answer == ("pump-heat",)


def test_a_us_entry_leads_another_countrys_only_when_the_ranking_gives_it_weight():
    """US labels first for the same fact; but a US entry the ranker all but rules out (another
    strength's or product's fact, 0.3 % against 99 %) is not put before the one asked for."""
    close = decide([("dose-children-uk", 0.6), ("dose-children", 0.3)], META)
    assert close.answer == ("dose-children", "dose-children-uk")
    far = decide([("dose-children-uk", 0.99), ("dose-children", 0.003)], META)
    assert far.answer == ("dose-children-uk",)
