"""Answer composition: the one place that turns knowledge entries into reply messages.

Invariants every reply with medical information keeps (tests/actions prove them):
- emergency advice, when present, comes first and starts with EMERGENCY_MARK;
- one answer is one message (a "bubble"): its facts as paragraphs, then one source line
  per fact, each starting with SOURCE_MARK, naming the source document (linked as
  [title](url) when knowledge/sources.yml has its address), the section and the date
  the entry was last reviewed;
- the reply ends with a contact-your-clinician line that starts with DISCLAIMER_MARK.
Channels and the web widget style messages by these marks (the widget shows source
lines as a separate, smaller element; text-only channels turn links into "title (url)").
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence

from knowledge.store import Entry

EMERGENCY_MARK = "🚨"
DISCLAIMER_MARK = "ℹ️"
SOURCE_MARK = "Source:"

# Who to contact depends on the question: medicines → pharmacist, pump → pump team.
DISCLAIMERS: Dict[str, str] = {
    "clinician": "This is general information, not medical advice. Please contact your doctor, "
                 "nurse or pharmacist about your own treatment.",
    "prescriber": "This is general information, not medical advice. Only your prescriber can decide "
                  "your dose: please contact them before changing how you take baclofen.",
    "pharmacist": "This is general information, not medical advice. Please check with your pharmacist "
                  "or doctor before taking baclofen with other medicines or alcohol.",
    "pump_team": "This is general information, not medical advice. Please contact your pump team "
                 "(the clinic that manages your pump) about your own pump and dose.",
    "emergency": "This is general information, not medical advice. Please contact your clinician "
                 "as soon as you can, even if things improve.",
}

APOLOGY = ("Sorry — I couldn't look that up just now. Please try again in a minute. "
           "If this is an emergency, call 911 (or your local emergency number); for a possible "
           "overdose call Poison Control at 1-800-222-1222.")

# The two-stage fallback's second stage (actions.ActionAskRephrase) and last resort.
REPHRASE = ("Sorry, I didn't understand that. I can only answer questions about baclofen (by mouth "
            "or by intrathecal pump); for other medicines, please ask your pharmacist or doctor. "
            "Could you ask your baclofen question another way? For example: "
            "\"What are the side effects of baclofen?\"")
STILL_NOT_UNDERSTOOD = ("Sorry, I still didn't understand. I can answer questions about baclofen: "
                        "dosing, side effects, other medicines, the intrathecal pump and more. If you "
                        "need help now, contact your clinician or pharmacist; in an emergency call 911.")

Message = Dict[str, object]
_MAX_TITLE = 90


@dataclass(frozen=True)
class Bubble:
    """One answer: an optional lead-in sentence, then the entries that answer it."""

    entries: Sequence[Entry]
    preface: Optional[str] = None


def disclaimer(audience: str = "clinician") -> str:
    return f"{DISCLAIMER_MARK} {DISCLAIMERS.get(audience, DISCLAIMERS['clinician'])}"


def reviewed_on(day: dt.date) -> str:
    """"22 Nov 2026": day first, month as a word, so no reader mistakes it."""
    return f"{day.day} {day.strftime('%b')} {day.year}"


def source_line(entry: Entry) -> str:
    """E.g. "Source: [FDA label for baclofen tablets](https://…), Dosage and Administration.
    Reviewed 22 Nov 2026." (no link when the source has no known address)."""
    title = re.sub(r"\s*\([^)]*\)", "", entry.source_title or entry.source_doc).strip(" .,;")
    if len(title) > _MAX_TITLE:
        title = title[:_MAX_TITLE].rsplit(" ", 1)[0].rstrip(" ,;") + "…"
    named = f"[{title}]({entry.source_url})" if entry.source_url else title
    section = entry.source_section.strip().rstrip(".")
    where = f"{named}, {section}" if section else named
    return f"{SOURCE_MARK} {where}. Reviewed {reviewed_on(entry.reviewed)}."


def bubble_text(bubble: Bubble) -> str:
    """Paragraphs and source lines joined by single line breaks: Rasa's channels split a
    message's text at every blank line into separate messages, which would break one
    answer into several bubbles."""
    entries = _unique(bubble.entries)
    paragraphs = ([bubble.preface] if bubble.preface else []) + [e.text.strip() for e in entries]
    sources = list(dict.fromkeys(source_line(e) for e in entries))
    return "\n".join(paragraphs + sources)


def reply(
    bubbles: Sequence[Bubble],
    audience: str = "clinician",
    *,
    emergency: Sequence[Entry] = (),
    note: Optional[str] = None,
    buttons: Optional[List[Dict[str, str]]] = None,
) -> List[Message]:
    """Messages for one reply: emergency first, one message per answer, note, disclaimer last."""
    messages: List[Message] = [
        {"text": f"{EMERGENCY_MARK} {e.text.strip()}\n{source_line(e)}"} for e in _unique(emergency)
    ]
    shown = {e.id for e in emergency}
    for bubble in bubbles:
        rest = [e for e in bubble.entries if e.id not in shown]
        if rest or bubble.preface:
            messages.append({"text": bubble_text(Bubble(rest, bubble.preface))})
        shown.update(e.id for e in rest)
    if note:
        messages.append({"text": note})
    last: Message = {"text": disclaimer("emergency" if emergency else audience)}
    if buttons:
        last["buttons"] = buttons
    messages.append(last)
    return messages


def compose(
    entries: Sequence[Entry],
    audience: str = "clinician",
    *,
    emergency: Sequence[Entry] = (),
    preface: Optional[str] = None,
    note: Optional[str] = None,
    buttons: Optional[List[Dict[str, str]]] = None,
) -> List[Message]:
    """A reply with one answer (or none: only emergency advice, a note, the disclaimer)."""
    bubbles = [Bubble(entries, preface)] if entries or preface else []
    return reply(bubbles, audience, emergency=emergency, note=note, buttons=buttons)


def apology() -> List[Message]:
    """What the user gets when something inside an action failed: never an empty reply."""
    return [{"text": APOLOGY}, {"text": disclaimer("clinician")}]


def _unique(entries: Iterable[Entry]) -> List[Entry]:
    seen, out = set(), []
    for e in entries:
        if e.id not in seen:
            seen.add(e.id)
            out.append(e)
    return out
