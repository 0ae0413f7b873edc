"""Answer composition: the one place that turns knowledge entries into reply messages.

Invariants every reply with medical information keeps (tests/actions prove them):
- emergency advice, when present, comes first and starts with EMERGENCY_MARK;
- each fact carries its source line;
- the reply ends with a contact-your-clinician line that starts with DISCLAIMER_MARK.
Channels and the web widget style messages by these two marks.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence

from knowledge.store import Entry, source_line

EMERGENCY_MARK = "🚨"
DISCLAIMER_MARK = "ℹ️"

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

Message = Dict[str, object]


def disclaimer(audience: str = "clinician") -> str:
    return f"{DISCLAIMER_MARK} {DISCLAIMERS.get(audience, DISCLAIMERS['clinician'])}"


def entry_text(entry: Entry) -> str:
    return f"{entry.text.strip()}\n{source_line(entry)}"


def compose(
    entries: Sequence[Entry],
    audience: str = "clinician",
    *,
    emergency: Sequence[Entry] = (),
    preface: Optional[str] = None,
    note: Optional[str] = None,
    buttons: Optional[List[Dict[str, str]]] = None,
) -> List[Message]:
    """Messages for one reply: emergency first, then preface, facts, note, disclaimer last."""
    messages: List[Message] = [
        {"text": f"{EMERGENCY_MARK} {entry_text(e)}"} for e in _unique(emergency)
    ]
    if preface:
        messages.append({"text": preface})
    messages.extend({"text": entry_text(e)} for e in _unique(entries) if e not in emergency)
    if note:
        messages.append({"text": note})
    last: Message = {"text": disclaimer("emergency" if emergency else audience)}
    if buttons:
        last["buttons"] = buttons
    messages.append(last)
    return messages


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
