"""Our Rasa performance patches decide exactly as Rasa's own code does."""

from typing import Any, Dict, List

import jsonschema
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses

import nlp.components  # noqa: F401  (importing our components applies the patches)
from nlp import rasa_patches

USER = {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 0.9},
                                                       "entities": [{"entity": "drug", "value": "x"}]}}
RESPONSES: List[Any] = [
    {"events": [], "responses": [{"text": "hi"}]},
    {},
    {"events": [{"event": "slot", "name": "topic", "value": "dosage"}], "responses": []},
    {"events": [{"event": "slot", "name": "topic", "value": None, "timestamp": 1.5}]},
    {"events": [USER, {"event": "action", "name": "action_listen", "policy": None}]},
    {"events": [{"event": "bot", "text": "x"}, {"event": "session_started", "metadata": {}}]},
    {"events": [{"event": "followup", "name": "x"}, {"event": "restart"}, {"event": "reset_slots"}]},
    # invalid ones
    {"events": 5},
    {"events": [5]},
    {"events": [{}]},
    {"events": [{"event": 3}]},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot", "value": 1}]},  # slot without a name
    {"events": [{"event": "slot", "name": 3, "value": 1}]},
    {"events": [{"event": "entities"}]},
    {"events": [{"event": "action", "confidence": "high"}]},
    {"events": [{"event": "bot", "timestamp": "now"}]},
    {"events": [{"event": "bot", "metadata": []}]},
    {"events": [{**USER, "parse_data": {"entities": [{"entity": "drug"}]}}]},
    {"events": [{"event": "bot"}], "responses": "hello"},
    {"events": [{"event": "bot"}], "responses": [3]},
    [],
    "text",
]


def rasa_verdict(result: Any) -> bool:
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
        return True
    except ValidationError:
        return False


def test_patches_are_applied_when_our_components_load() -> None:
    assert RemoteAction._validate_action_result is rasa_patches._validate_action_result
    assert Event.resolve_by_type("slot") is SlotSet


@pytest.mark.parametrize("result", RESPONSES)
def test_action_response_check_agrees_with_rasas_schema(result: Any) -> None:
    action = RemoteAction("action_answer", None)
    if rasa_verdict(result):
        assert action._validate_action_result(result) is True
    else:
        with pytest.raises(ValidationError, match="Failed to validate Action server response"):
            action._validate_action_result(result)


def test_the_test_covers_both_verdicts() -> None:
    verdicts = [rasa_verdict(r) for r in RESPONSES]
    assert verdicts.count(True) >= 6 and verdicts.count(False) >= 12


def test_every_event_type_resolves_to_rasas_class() -> None:
    names = {cls.type_name for cls in all_subclasses(Event)}
    assert {"user", "bot", "action", "slot", "session_started"} <= names
    for name in names:
        expected = next(cls for cls in all_subclasses(Event) if cls.type_name == name)
        assert Event.resolve_by_type(name) is expected


def test_unknown_event_types_keep_rasas_handling() -> None:
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("nope", default=BotUttered) is BotUttered
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("nope")


def test_serialised_events_round_trip() -> None:
    events: List[Event] = [UserUttered("hi", {"name": "greet", "confidence": 1.0}),
                           ActionExecuted("action_answer"), SlotSet("topic", "dosage"), BotUttered("x")]
    dumped: List[Dict[str, Any]] = [e.as_dict() for e in events]
    assert [Event.from_parameters(d) for d in dumped] == events
