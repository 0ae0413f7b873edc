"""Checks every channel runs on a user message before it reaches NLU.

`check(text)` cleans the text (markup removed, whitespace and control
characters normalised) and says whether it can go on to NLU; when it cannot,
`reply` is the friendly text to send back instead. Pure functions, no I/O.
"""

from __future__ import annotations

import html
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

OK, EMPTY, TOO_LONG, NO_TEXT, NOT_ENGLISH = "ok", "empty", "too_long", "no_text", "not_english"
MAX_CHARS_ENV = "BACLOFEN_MAX_MESSAGE_CHARS"
DEFAULT_MAX_CHARS = 2000

EMERGENCY_LINE = "If this is an emergency, call your local emergency number now."

_BLOCKS = re.compile(r"<(script|style|iframe|object|embed|template)\b.*?(</\1\s*>|$)", re.I | re.S)
_COMMENTS = re.compile(r"<!--.*?(-->|$)", re.S)
_TAGS = re.compile(r"</?[a-zA-Z!?][^<>]*>")
_UNCLOSED_TAG = re.compile(r"</?[a-zA-Z][^<>]*$")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class GuardResult:
    outcome: str                 # ok, empty, too_long, no_text or not_english
    text: str                    # the cleaned text (what NLU should see)
    reply: Optional[str] = None  # what to say back when outcome is not ok

    @property
    def ok(self) -> bool:
        return self.outcome == OK


def max_chars() -> int:
    """The length cap: $BACLOFEN_MAX_MESSAGE_CHARS, else 2000."""
    try:
        value = int(os.environ.get(MAX_CHARS_ENV, DEFAULT_MAX_CHARS))
    except ValueError:
        return DEFAULT_MAX_CHARS
    return value if value > 0 else DEFAULT_MAX_CHARS


def strip_markup(text: str) -> str:
    """Remove HTML: scripts/styles with their content, comments, tags.

    Entities are decoded first so "&lt;script&gt;" cannot sneak a tag through;
    repeated until nothing changes (nested or encoded twice)."""
    for _ in range(5):
        before = text
        text = html.unescape(text)
        text = _BLOCKS.sub(" ", text)
        text = _COMMENTS.sub(" ", text)
        text = _TAGS.sub(" ", text)
        text = _UNCLOSED_TAG.sub(" ", text)
        if text == before:
            break
    return text


def normalise(text: str) -> str:
    """Unicode NFKC, control/format characters dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    kept = "".join(
        " " if ch in "\t\n\r\f\v" else ch
        for ch in text
        if ch in "\t\n\r\f\v" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    return _SPACES.sub(" ", kept).strip()


def clean(text: Optional[str]) -> str:
    """What NLU sees: markup stripped, then normalised."""
    if not isinstance(text, str):
        return ""
    # Repeat until stable: removing a control character or a tag can join the pieces of
    # a new tag ("<\x1fA", "<<b>script>"), which must not reach NLU or any channel.
    for _ in range(5):
        cleaned = normalise(strip_markup(normalise(text)))
        if cleaned == text:
            break
        text = cleaned
    return text


def _has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def looks_non_english(text: str) -> bool:
    """Mostly letters of a non-Latin script (Cyrillic, Arabic, CJK...).

    Accented Latin letters count as Latin, so names like "José" never trip it;
    Latin-script languages (Spanish...) are not detected on purpose."""
    latin = other = 0
    for ch in text:
        if not ch.isalpha():
            continue
        if unicodedata.name(ch, "").startswith("LATIN"):
            latin += 1
        else:
            other += 1
    return other >= 4 and other > 2 * latin


def check(text: Optional[str]) -> GuardResult:
    """Decide whether a message can go to NLU, with a reply when it cannot."""
    cap = max_chars()
    if not isinstance(text, str) or not text.strip():
        return GuardResult(EMPTY, "", "I didn't get a question there. "
                                      "Please type your question about baclofen.")
    if len(text) > 20 * cap:  # do not even clean very large input
        return _too_long(clean(text[:cap]), len(text), cap)
    cleaned = clean(text)
    if not cleaned:
        return GuardResult(EMPTY, "", "I didn't get a question there. "
                                      "Please type your question about baclofen.")
    if len(cleaned) > cap:
        return _too_long(cleaned, len(cleaned), cap)
    if not _has_words(cleaned):
        return GuardResult(NO_TEXT, cleaned, "I can only read words, not pictures or symbols. "
                                             "Please type your question about baclofen.")
    if looks_non_english(cleaned):
        return GuardResult(NOT_ENGLISH, cleaned, "Sorry, I can only answer in English. "
                                                 "Please ask your question in English. " + EMERGENCY_LINE)
    return GuardResult(OK, cleaned)


def _too_long(cleaned: str, length: int, cap: int) -> GuardResult:
    reply = (f"Please shorten your question to under {cap:,} characters "
             f"(yours has {length:,}). Short questions get the clearest answers. " + EMERGENCY_LINE)
    return GuardResult(TOO_LONG, cleaned, reply)
