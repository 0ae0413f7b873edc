"""The cached action-response validator validates exactly as Rasa's own."""

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

import nlp.components  # noqa: F401  (importing our components applies the patch)
from nlp import rasa_patches


def test_patch_is_applied_when_our_components_load() -> None:
    assert RemoteAction._validate_action_result is rasa_patches._validate_action_result


def test_valid_response_passes_and_invalid_one_is_rejected() -> None:
    action = RemoteAction("action_answer", None)
    assert action._validate_action_result({"events": [], "responses": [{"text": "hi"}]})
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": 5})
