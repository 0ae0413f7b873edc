"""The cached event lookup gives exactly what Rasa's own walk gives."""

from __future__ import annotations

import pytest
import rasa.shared.utils.common
from rasa.shared.core.events import Event, SlotSet

from conversation_store import event_types


def test_every_event_type_resolves_as_rasa_resolves_it() -> None:
    event_types.install()
    names = {cls.type_name for cls in rasa.shared.utils.common.all_subclasses(Event)}
    for name in names:
        assert Event.resolve_by_type(name) is event_types._original(name)
    assert Event.resolve_by_type("topic") is None  # Rasa's backwards-compatible case
    assert Event.resolve_by_type("nonsense", SlotSet) is SlotSet
    with pytest.raises(ValueError):
        Event.resolve_by_type("nonsense")
    assert Event.from_parameters({"event": "slot", "name": "topic", "value": "x"}) == SlotSet("topic", "x")
