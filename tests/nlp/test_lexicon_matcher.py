"""Pieces of the lexicon matcher: variants, edit distance, spelling index."""

import pytest

from nlp import lexicon_matcher as lm


def test_term_variants_cover_hyphens_and_plurals() -> None:
    assert lm.term_variants("Breast-Feeding") == {
        "breast-feeding", "breast feeding", "breastfeeding",
        "breast feedings", "breastfeedings"}
    assert "sedating antihistamines" in lm.term_variants("sedating antihistamine")
    assert "injuries" in lm.term_variants("injury")
    assert lm.term_variants("opioids") == {"opioids"}


@pytest.mark.parametrize("a, b, distance", [
    ("baclofen", "baclofen", 0), ("baclofen", "baclofin", 1), ("baclofen", "bacolfen", 1),
    ("baclofen", "bacofn", 2), ("seizure", "siezure", 1), ("abc", "xyz", 3),
])
def test_osa_distance(a: str, b: str, distance: int) -> None:
    assert lm.osa_distance(a, b, 3) == distance


def test_osa_distance_stops_early_past_the_limit() -> None:
    assert lm.osa_distance("tizanidine", "ibuprofen", 2) == 3


def test_allowed_distance_by_length() -> None:
    assert [lm.allowed_distance(w) for w in ("bed", "dose", "fever", "seizure", "baclofen")] == [0, 0, 1, 1, 2]


def test_spelling_index_corrects_only_near_unambiguous_words() -> None:
    index = lm.SpellingIndex(["baclofen", "fever", "tablet", "tablets"], protected=["never"])
    assert index.correct("Baclofin") == "baclofen"
    assert index.correct("bcalofen") == "baclofen"
    assert index.correct("feverr") == "fever"
    assert index.correct("never") is None        # protected dictionary word
    assert index.correct("baclofen") is None     # already right
    assert index.correct("tabet") == "tablet"
    assert index.correct("tablets") is None
    assert index.correct("fevr") is None         # under five letters: left alone
    assert index.correct("b4clofen") is None     # not a plain word


def test_ties_between_two_targets_are_left_alone() -> None:
    index = lm.SpellingIndex(["plates", "plants"])
    assert index.correct("planes") is None


def test_protected_words_are_dictionary_words_near_a_target() -> None:
    protected = lm.protected_words(["fever", "wine"], ["never", "lever", "apple", "fever"])
    assert protected == {"never", "lever"}


def test_english_word_list_is_shipped() -> None:
    words = lm.english_words()
    assert len(words) > 50_000
    assert {"seizure", "tablets", "never", "gonna"} <= words
