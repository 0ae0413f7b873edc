"""Redaction of the conversation events that are stored, published and kept between turns.

Only what the person typed can hold personal data: a UserUttered event's text, its parse
data (which repeats the text and may quote parts of it, e.g. entry_parts) and the metadata
the channel passed along. The bot's own replies come from the knowledge base and are kept.
Events are changed in place, so the tracker this process keeps for the next turn, the rows
written and the events sent to the event broker are the same redacted ones.
"""

from __future__ import annotations

from typing import Any, Iterable

from rasa.shared.core.events import Event, UserUttered

from privacy.redact import redact

_DONE = "_baclofen_redacted"
# Parse-data keys holding only model output (names, ids, scores): nothing typed.
_MODEL_OUTPUT = frozenset({"intent", "intent_ranking", "entry_ranking", "response_selector"})


def redact_value(value: Any) -> Any:
    """Every string inside `value` (dicts and lists too, changed in place) redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in _MODEL_OUTPUT:
                value[key] = redact_value(item)
    elif isinstance(value, list):
        value[:] = [redact_value(item) for item in value]
    return value


def redact_events(events: Iterable[Event]) -> None:
    """Redact what the person typed in these events, once each."""
    for event in events:
        if not isinstance(event, UserUttered) or getattr(event, _DONE, False):
            continue
        event.text = redact(event.text) if isinstance(event.text, str) else event.text
        redact_value(event.parse_data)  # holds the text again, the entities and the metadata
        event.parse_data["text"] = event.text
        redact_value(event.entities)
        if isinstance(event.metadata, dict):
            redact_value(event.metadata)
        setattr(event, _DONE, True)
