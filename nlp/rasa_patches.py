"""A measured performance fix for Rasa 3.6, applied when our components are imported.

Rasa 3.6 rebuilds a jsonschema validator for EVERY custom-action response
(RemoteAction._validate_action_result), which was about half of the Rasa server's CPU
per message in `make bench`. The schema never changes, so build the validator once;
validation itself is exactly the same.
"""

from functools import lru_cache
from typing import Any, Dict, Text

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction


@lru_cache(maxsize=1)
def _validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    try:
        _validator().validate(result)
    except ValidationError as e:
        e.message += ". Failed to validate Action server response from API."
        raise
    return True


RemoteAction._validate_action_result = _validate_action_result  # type: ignore[assignment]
