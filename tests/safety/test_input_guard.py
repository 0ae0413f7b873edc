"""Input guard: what reaches NLU, and the replies for what does not."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safety import input_guard
from safety.input_guard import check, clean, strip_markup


def test_ordinary_question_passes_cleaned() -> None:
    result = check("  What is   the max\tdose of\nbaclofen?  ")
    assert result.ok and result.reply is None
    assert result.text == "What is the max dose of baclofen?"


@pytest.mark.parametrize("text", [None, "", "   \n\t ", "<b></b>", "<script>alert(1)</script>", "\u200b\x00"])
def test_empty_messages(text: object) -> None:
    result = check(text)  # type: ignore[arg-type]
    assert result.outcome == "empty" and result.text == ""
    assert "type your question" in result.reply


@pytest.mark.parametrize("text", ["😀😀", "???", "!!! ...", "👍", "🙂 🙃 -- ?!"])
def test_symbols_only(text: str) -> None:
    result = check(text)
    assert result.outcome == "no_text"
    assert "words" in result.reply and text not in result.reply


def test_length_cap_default_and_reply() -> None:
    assert check("a" * 2000).ok
    result = check("a" * 2001)
    assert result.outcome == "too_long"
    assert "under 2,000 characters" in result.reply and "2,001" in result.reply
    assert "emergency" in result.reply


def test_length_cap_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACLOFEN_MAX_MESSAGE_CHARS", "50")
    assert check("x" * 50).ok
    assert "under 50 characters" in check("x" * 51).reply
    monkeypatch.setenv("BACLOFEN_MAX_MESSAGE_CHARS", "lots")
    assert input_guard.max_chars() == 2000


def test_markup_does_not_count_towards_the_cap() -> None:
    assert check("<p>" * 500 + "hello").ok


def test_huge_input_is_refused_without_full_processing() -> None:
    result = check("<b>" + "x" * 1_000_000)
    assert result.outcome == "too_long" and len(result.text) <= 2000 and "<" not in result.text


@pytest.mark.parametrize("raw, expected", [
    ("hello <b>world</b>", "hello world"),
    ("<script>alert('x')</script>what is baclofen", "what is baclofen"),
    ("<SCRIPT src=x>bad()</SCRIPT >hi", "hi"),
    ("<style>p{}</style>dose?", "dose?"),
    ("&lt;script&gt;alert(1)&lt;/script&gt;hi", "hi"),
    ("&amp;lt;b&amp;gt;bold", "bold"),
    ("<img src=x onerror=alert(1)>dose?", "dose?"),
    ("<!-- hidden -->shown", "shown"),
    ("unfinished <a href='x'", "unfinished"),
    ("dose < 5 mg and > 2 mg", "dose < 5 mg and > 2 mg"),
    ("Tom &amp; Jerry", "Tom & Jerry"),
])
def test_strip_markup(raw: str, expected: str) -> None:
    assert clean(raw) == expected


def test_control_and_format_characters_are_dropped() -> None:
    assert clean("ok\x00\x07 there\u200b\u202e now\r\n") == "ok there now"
    assert clean("ｂａｃｌｏｆｅｎ") == "baclofen"  # full-width letters folded


@pytest.mark.parametrize("text", ["Как принимать баклофен?", "巴氯芬的副作用是什么", "ما هي جرعة باكلوفين"])
def test_non_latin_scripts_get_an_english_only_reply(text: str) -> None:
    result = check(text)
    assert result.outcome == "not_english" and "English" in result.reply


@pytest.mark.parametrize("text", [
    "José asks: is baclofen ok?", "Can Zoë take baclofen?", "baclofen 副作用",
    "Ich nehme Baclofen", "µg or mcg?", "is 5 mg ≥ 2 mg", "Ωmega 3 with baclofen",
])
def test_latin_text_with_some_other_letters_is_not_refused(text: str) -> None:
    assert check(text).ok


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_and_cleaned_text_has_no_tags_or_controls(text: str) -> None:
    result = check(text)
    assert result.outcome in {"ok", "empty", "too_long", "no_text", "not_english"}
    assert (result.reply is None) == result.ok
    assert not any(ord(ch) < 32 for ch in result.text)
    assert strip_markup(result.text) == result.text or "&" in result.text
