"""Which words count as evidence for the intent classifier (nlp/known_words.py)."""

import pytest

from nlp.known_words import KnownWords, trigrams

WORDS = KnownWords(["thank", "you", "bye", "side", "effects", "dose", "what", "is", "the"])


def test_trigrams_are_padded_like_char_wb_ngrams() -> None:
    assert trigrams("dose") == {" do", "dos", "ose", "se "}
    assert trigrams("y") == {" y "}


@pytest.mark.parametrize("word", ["thank", "THANK", "Dose"])
def test_training_words_are_known_in_any_case(word: str) -> None:
    assert WORDS.recognises(word)


@pytest.mark.parametrize("word", ["thankyou", "byee", "sideffects", "doses"])
def test_typos_and_run_together_words_keep_enough_trigrams(word: str) -> None:
    assert WORDS.recognises(word)


@pytest.mark.parametrize("word", ["asdkjh", "qwerty", "zzzz", "kjsdfh", "?", "k"])
def test_keyboard_mashes_and_unseen_fragments_are_not_known(word: str) -> None:
    assert not WORDS.recognises(word)


def test_an_empty_vocabulary_is_falsy_so_callers_can_skip_the_check() -> None:
    assert not KnownWords([])
    assert WORDS
