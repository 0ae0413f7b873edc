"""Splitting, numbered options, button memory and turn merging (channels/formatting.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.compose import disclaimer
from channels import formatting
from channels.formatting import (
    ButtonMemory,
    merge_messages,
    numbered_options,
    reply_hint,
    split_message,
    utf16_len,
)

DISCLAIMER = disclaimer("clinician")
BUTTONS = [
    {"title": "Side effects", "payload": "/ask_side_effects"},
    {"title": "Usual dose", "payload": "/ask_dosage"},
    {"title": "Other medicines", "payload": "/ask_interactions"},
]


def long_reply(paragraphs: int = 12) -> str:
    body = "\n\n".join(
        f"Paragraph {i}: baclofen can cause drowsiness, dizziness and weakness; "
        "take it exactly as prescribed and do not stop it suddenly. " * 3
        for i in range(paragraphs)
    )
    return f"{body}\nSource: Baclofen tablets label, Adverse Reactions\n\n{DISCLAIMER}"


def test_short_text_is_one_chunk_unchanged():
    assert split_message("Hello there.", 1600) == ["Hello there."]


@pytest.mark.parametrize("limit", [1600, 2000, 4096, 3000, 500])
def test_long_reply_respects_limit_and_keeps_disclaimer_whole_and_last(limit):
    text = long_reply()
    chunks = split_message(text, limit)
    assert len(chunks) > 1 or len(text) <= limit
    assert all(len(c) <= limit for c in chunks)
    assert chunks[-1].endswith(DISCLAIMER)
    assert sum(c.count(DISCLAIMER) for c in chunks) == 1
    assert " ".join(chunks).split() == text.split()  # nothing lost, no word cut


def test_line_longer_than_limit_is_split_between_words():
    line = " ".join(f"word{i}" for i in range(400))
    chunks = split_message(line, 100)
    assert all(len(c) <= 100 for c in chunks)
    assert " ".join(chunks).split() == line.split()


def test_only_a_word_longer_than_the_limit_is_cut():
    url = "https://example.org/" + "a" * 250
    chunks = split_message(f"See {url} today", 100)
    assert all(len(c) <= 100 for c in chunks)
    assert "".join(chunks).replace(" ", "") == f"See{url}today"


def test_telegram_counts_utf16_units():
    assert utf16_len("ℹ️") == 2 and utf16_len("🚨") == 2 and len("🚨") == 1
    text = "🚨" * 3000  # 3,000 code points, 6,000 UTF-16 units
    chunks = split_message(text, 4096, size=utf16_len)
    assert all(utf16_len(c) <= 4096 for c in chunks) and "".join(chunks) == text


@given(st.lists(st.text(alphabet="abcdefgh ,.\n", min_size=0, max_size=60), min_size=1, max_size=40),
       st.integers(min_value=20, max_value=300))
@settings(max_examples=200, deadline=None)
def test_split_properties(lines, limit):
    text = "\n".join(lines + [DISCLAIMER])
    chunks = split_message(text, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    if all(len(w) <= limit for w in text.split()):
        assert " ".join(chunks).split() == text.split()
    if len(DISCLAIMER) <= limit:
        assert chunks[-1].endswith(DISCLAIMER)


def test_reply_hint_wording():
    assert reply_hint(1) == "Reply 1, or type your question."
    assert reply_hint(2) == "Reply 1 or 2, or type your question."
    assert reply_hint(3) == "Reply 1, 2 or 3, or type your question."


def test_numbered_options_layout():
    text = numbered_options("What would you like to know?", BUTTONS)
    assert text == (
        "What would you like to know?\n\n"
        "1. Side effects\n2. Usual dose\n3. Other medicines\n"
        "Reply 1, 2 or 3, or type your question."
    )


def test_numbered_options_keep_the_disclaimer_last():
    text = numbered_options(f"Some facts.\nSource: X\n\n{DISCLAIMER}", BUTTONS[:2])
    assert text.split("\n")[-1] == DISCLAIMER
    assert "1. Side effects\n2. Usual dose" in text


def test_memory_maps_numbers_to_payloads_once():
    memory = ButtonMemory()
    memory.remember("+15551230000", BUTTONS)
    assert memory.resolve("+15551230000", " 2 ") == "/ask_dosage"
    assert memory.resolve("+15551230000", "2") is None  # used up


@pytest.mark.parametrize("typed,payload", [("1", "/ask_side_effects"), ("3.", "/ask_interactions"),
                                           ("#2", "/ask_dosage"), ("(1)", None), ("4", None),
                                           ("0", None), ("2 please", None), ("", None), (None, None)])
def test_memory_accepts_plain_numbers_only(typed, payload):
    memory = ButtonMemory()
    memory.remember("s", BUTTONS)
    assert memory.resolve("s", typed) == payload


def test_memory_is_per_sender_and_forgettable():
    memory = ButtonMemory()
    memory.remember("a", BUTTONS)
    assert memory.resolve("b", "1") is None
    memory.forget("a")
    assert memory.resolve("a", "1") is None


def test_memory_is_bounded_and_expires(monkeypatch):
    memory = ButtonMemory(max_senders=3, ttl_seconds=60)
    for sender in "abcd":
        memory.remember(sender, BUTTONS)
    assert len(memory) == 3 and memory.resolve("a", "1") is None  # oldest dropped
    now = formatting.time.monotonic()
    monkeypatch.setattr(formatting.time, "monotonic", lambda: now + 61)
    assert memory.resolve("d", "1") is None


def test_merge_joins_text_and_keeps_buttons_on_the_last():
    turn = [
        {"text": "Fact one.\nSource: A", "buttons": None, "image": None},
        {"text": "Fact two.\nSource: B"},
        {"text": DISCLAIMER, "buttons": BUTTONS},
    ]
    merged = merge_messages(turn)
    assert len(merged) == 1
    assert merged[0]["text"] == f"Fact one.\nSource: A\n\nFact two.\nSource: B\n\n{DISCLAIMER}"
    assert merged[0]["buttons"] == BUTTONS


def test_merge_does_not_cross_buttons_or_images():
    turn = [{"text": "Pick one", "buttons": BUTTONS}, {"text": "after"},
            {"image": "https://x/y.png"}, {"text": "end"}]
    assert merge_messages(turn) == [dict(m) for m in turn]


def test_source_links_become_readable_text_for_text_only_channels():
    line = "Source: [FDA label for baclofen tablets](https://dailymed.nlm.nih.gov/x?q=1), Warnings. Reviewed 1 Dec 2026."
    assert formatting.plain_links(line) == (
        "Source: FDA label for baclofen tablets (https://dailymed.nlm.nih.gov/x?q=1), Warnings. Reviewed 1 Dec 2026.")
    # Only http(s) targets are links; anything else stays as typed.
    assert formatting.plain_links("[x](javascript:alert(1))") == "[x](javascript:alert(1))"
    assert formatting.plain_links("no links here") == "no links here"
