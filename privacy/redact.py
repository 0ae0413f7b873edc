"""Redaction of personal data from what patients and carers type, before it is stored or logged.

Replaces emails, phone numbers, NHS numbers, dates of birth, street addresses and postcodes,
and names where a cue shows them ("my name is…", "I'm Tom", "Dr Patel", "my son Oliver"),
with a placeholder such as <PHONE>. Doses, strengths, times, durations, pump volumes, ages,
relations and dates that are not birth dates are left alone: they are the medical meaning.

Recognisers were chosen by measurement on tests/privacy/redaction_set.yml (docs/privacy.md):
these patterns catch more of the set than Presidio's recognisers (which ignore numbers that
phonenumbers deems unassigned, and find no names or addresses) at a fraction of the cost,
so Presidio serves as the reference the test compares against (privacy/presidio_backend.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import FrozenSet, Iterable, List, Optional, Pattern

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str  # NAME, EMAIL, PHONE, ID, DOB, ADDRESS


# ------------------------------------------------------------------ contact details

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

# A run of digits with spaces, dots, dashes or brackets between groups; the digits are
# counted afterwards (10 to 13: a phone or NHS number; fewer is a dose, a batch, 999).
PHONE_LIKE = re.compile(r"(?<![\w£$€.,/:])(?:\+\s?\d{1,3}[\s.-]?)?(?:\(\s?\d{2,5}\s?\)|\d{2,5})"
                        r"(?:[\s.-]?\d{2,5}){1,3}(?![\w%/:]|[.,]\d)")
NHS_CUE = re.compile(r"\bnhs\b[^\d]{0,20}$", re.IGNORECASE)

# ------------------------------------------------------------------ dates of birth

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
DATE = re.compile(
    r"\b(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?,?\s+\d{{2,4}}"
    rf"|{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})\b", re.IGNORECASE)
# A date is a birth date when one of these comes shortly before it.
BIRTH_CUE = re.compile(r"(?:\bborn\b|\bbirth|\bdob\b|\bd\.o\.b\b\.?|\bb\.?day\b)[^.!?\n]{0,25}$", re.IGNORECASE)

# ------------------------------------------------------------------ addresses

_STREET = (r"(?:street|st|road|rd|avenue|ave|lane|ln|close|drive|way|crescent|cres|place|court|"
           r"gardens|terrace|grove|row|walk|square|mews|hill|park|green|rise|parade|boulevard)")
ADDRESS = re.compile(
    r"\b(?:(?:flat|apartment|apt|unit)\s+\d{1,4}[a-z]?,?\s+)?(?<!\d[\s.-])\d{1,4}[a-z]?,?\s+"
    rf"((?:[a-z'’]+\s+){{1,3}}){_STREET}\b\.?", re.IGNORECASE)
_NOT_STREET = frozenset("times tablets doses days weeks months years hours minutes laps mg ml mcg".split())
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2}\b", re.IGNORECASE)

# ------------------------------------------------------------------ names

_WORD = r"[A-Za-z](?:[A-Za-z'’-]*[A-Za-z])?"  # "O'Neill"; not the quote after "Jones'"
# After these, what follows is a name whatever it looks like (unless an ordinary word).
STRONG_CUE = re.compile(r"\b(?:my\s+name\s+is|my\s+names|my\s+name['’]s|name\s+is|name['’]s|"
                        r"(?:i\s+am|i['’]?m)\s+called|call\s+me|they\s+call\s+me)\s+", re.IGNORECASE)
# After these, a name only if it is a known first name ("I'm Tom", not "I'm Dutch").
WEAK_CUE = re.compile(r"(?:^|[\s,.!?])(?:i\s+am|i['’]?m|this\s+is|it['’]?s|hi\s+it['’]?s)\s+", re.IGNORECASE)
# A sign-off: a capitalised name at the end ("Thanks, Priya").
SIGN_OFF = re.compile(rf"\b(?:regards|thanks|thank\s+you|cheers|best|love),?\s+"
                      rf"([A-Z][A-Za-z'’-]+(?:\s+[A-Z][A-Za-z'’-]+)?)\s*[.!]?\s*$", re.IGNORECASE)
# Titles and roles take the capitalised words after them ("Dr Patel", "nurse Jenny").
TITLE = re.compile(r"\b(?:dr|doctor|mr|mrs|ms|miss|mx|prof|professor|nurse|sister)\.?\s+"
                   r"(?=[A-Z])", re.IGNORECASE)
RELATION = re.compile(r"\b(?:son|daughter|husband|wife|partner|mum|mom|mother|dad|father|brother|"
                      r"sister|grandson|granddaughter|grandma|grandad|grandpa|nan|child|boy|girl|"
                      r"friend|carer|patient|neighbour|client)\b,?\s+", re.IGNORECASE)
HERE_CUE = re.compile(rf"^\s*(?:hi,?\s+|hello,?\s+)?({_WORD})\s+here\b", re.IGNORECASE)
SAINT = re.compile(r"\b(?:st|saint)\.?\s+$", re.IGNORECASE)
CAPITALISED = re.compile(rf"(?<![\w'’])([A-Z][a-z'’-]+)\b")
TOKEN = re.compile(_WORD)

# Words that are never taken for a name after a cue ("call me on…", "I'm so tired").
NOT_NAMES: FrozenSet[str] = frozenset("""
a an the and or but so not no yes on in at to of for from with about again also just very
really still now then here there this that these those it its is was be been being am are
me my mine your you he she his her him they them we us our i im i'm who what when where why
how which if as by up down out off over after before back please thanks thank hello hi hey
dr mr mrs ms miss nurse doctor sister taking take took on worried fine ok okay well good
bad sorry sure afraid allergic pregnant tired sleepy new old having getting going trying
looking feeling calling writing asking wondering concerned confused due unable able
baclofen lioresal lyflex
""".split())


@lru_cache(maxsize=1)
def first_names() -> FrozenSet[str]:
    text = (HERE / "first_names.txt").read_text(encoding="utf-8")
    return frozenset(w for line in text.splitlines() if not line.startswith("#") for w in line.split())


def _is_name_word(word: str) -> bool:
    return word.lower().strip("'’") not in NOT_NAMES and word[0].isalpha()


def _name_after(text: str, pos: int, *, known_first: bool, max_words: int = 3) -> Optional[Span]:
    """The name that starts at `pos`, if any: one word, then capitalised surnames.
    known_first: the first word must be a known first name."""
    m = TOKEN.match(text, pos)
    if not m or not _is_name_word(m.group()):
        return None
    first = m.group()
    if known_first and _bare(first) not in first_names():
        return None
    end = m.end()
    words = 1
    lower_ok = first.islower()  # "john smith": a surname may be lower case when the name is
    while words < max_words:
        nxt = re.compile(r"[ \t]+(" + _WORD + r")").match(text, end)
        if not nxt or not _is_name_word(nxt.group(1)):
            break
        w = nxt.group(1)
        if not (w[0].isupper() or (lower_ok and not known_first and words == 1 and _ends_phrase(text, nxt.end()))):
            break
        end = nxt.end()
        words += 1
    return Span(m.start(), _strip_possessive(text, m.start(), end), "NAME")


def _bare(word: str) -> str:
    """A word as the name list has it: lower case, without a possessive ("Tom's")."""
    word = word.lower()
    return word[:-2] if word.endswith(("'s", "’s")) else word


def _ends_phrase(text: str, pos: int) -> bool:
    """The name is followed by punctuation or the end: "my names john smith, can…"."""
    rest = text[pos:pos + 2]
    return not rest or rest[0] in ",.!?;:"


def _strip_possessive(text: str, start: int, end: int) -> int:
    for suffix in ("'s", "’s"):
        if text[start:end].endswith(suffix):
            return end - 2
    return end


def _names(text: str) -> Iterable[Span]:
    for m in STRONG_CUE.finditer(text):
        span = _name_after(text, m.end(), known_first=False)
        if span:
            yield span
    for m in WEAK_CUE.finditer(text):
        span = _name_after(text, m.end(), known_first=True)
        if span:
            yield span
    m = SIGN_OFF.search(text)
    if m and _is_name_word(m.group(1).split()[0]):
        yield Span(m.start(1), m.end(1), "NAME")
    for m in TITLE.finditer(text):
        span = _name_after(text, m.end(), known_first=False, max_words=2)
        if span and text[span.start].isupper():
            yield span
    for m in RELATION.finditer(text):
        nxt = TOKEN.match(text, m.end())
        if nxt and (nxt.group()[0].isupper() or _bare(nxt.group()) in first_names()):
            span = _name_after(text, m.end(), known_first=not nxt.group()[0].isupper())
            if span:
                yield span
    m = HERE_CUE.match(text)  # "Mark here, …": a message opening so names its writer
    if m and m.group(1)[0].isupper() and _is_name_word(m.group(1)):
        yield Span(m.start(1), m.end(1), "NAME")
    # A known first name, capitalised, not opening a sentence ("Can Grace take it?").
    for m in CAPITALISED.finditer(text):
        if _bare(m.group(1)) not in first_names() or _opens_sentence(text, m.start()):
            continue
        if SAINT.search(text[:m.start()]):
            continue  # a hospital or a church: "St Mary's"
        span = _name_after(text, m.start(), known_first=True)
        if span:
            yield span


def _opens_sentence(text: str, pos: int) -> bool:
    before = text[:pos].rstrip()
    return not before or before[-1] in ".!?"


# ------------------------------------------------------------------ all together

def _numbers(text: str) -> Iterable[Span]:
    for m in PHONE_LIKE.finditer(text):
        digits = sum(c.isdigit() for c in m.group())
        if 10 <= digits <= 13:
            yield Span(m.start(), m.end(), "ID" if NHS_CUE.search(text[:m.start()]) else "PHONE")


def _birth_dates(text: str) -> Iterable[Span]:
    for m in DATE.finditer(text):
        if BIRTH_CUE.search(text[:m.start()]):
            yield Span(m.start(), m.end(), "DOB")


def _addresses(text: str) -> Iterable[Span]:
    for m in ADDRESS.finditer(text):
        # "3 times a day", "4 about Mrs Green": the street's own words are no ordinary words.
        if not any(w.lower() in NOT_NAMES or w.lower() in _NOT_STREET for w in m.group(1).split()):
            yield Span(m.start(), m.end(), "ADDRESS")
    for m in POSTCODE.finditer(text):
        yield Span(m.start(), m.end(), "ADDRESS")


def _emails(text: str) -> Iterable[Span]:
    return (Span(m.start(), m.end(), "EMAIL") for m in EMAIL.finditer(text))


RECOGNISERS = (_emails, _numbers, _birth_dates, _addresses, _names)

# Cheap test that a message can hold nothing a recogniser finds: most chat turns are short
# questions with no digits, '@' or capitals past the first letter.
_MAYBE = re.compile(r"[\d@A-Z]|\b(?:name|call|i['’]?m|i am|this is|it['’]?s|here|son|daughter|"
                    r"husband|wife|mum|dad|nurse|dr)\b", re.IGNORECASE)


def find(text: str) -> List[Span]:
    """Personal-data spans in `text`, merged where they overlap (the earlier kind wins)."""
    if not text or not _MAYBE.search(text):
        return []
    found = sorted({s for r in RECOGNISERS for s in r(text)}, key=lambda s: (s.start, -s.end))
    merged: List[Span] = []
    for s in found:
        if merged and s.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Span(last.start, max(last.end, s.end), last.kind)
        else:
            merged.append(s)
    return merged


def apply(text: str, spans: Iterable[Span]) -> str:
    out, pos = [], 0
    for s in spans:
        out.append(text[pos:s.start])
        out.append(f"<{s.kind}>")
        pos = s.end
    out.append(text[pos:])
    return "".join(out)


def redact(text: str) -> str:
    """`text` with personal data replaced by placeholders (<NAME>, <PHONE>…)."""
    if not isinstance(text, str):
        return text
    spans = find(text)
    return apply(text, spans) if spans else text


PLACEHOLDER: Pattern[str] = re.compile(r"<(?:NAME|EMAIL|PHONE|ID|DOB|ADDRESS)>")
