"""Measured performance fixes for Rasa 3.6, applied when our components are imported.

Each one keeps Rasa's behaviour exactly (tests/nlp/test_rasa_patches.py compares them
with Rasa's own code) and removes work that `make bench` showed Rasa repeating for
every message (py-spy profiles: bench/README.md):

1. RemoteAction._validate_action_result rebuilt a jsonschema validator for EVERY
   custom-action response (about half of the server's CPU per message). The schema
   never changes, so the validators are built once.
2. That schema checks each event against a `oneOf` of 23 event schemas, i.e. every
   event is validated 23 times. Each alternative pins `event` to its own constant, so
   at most one can match: validating an event against the alternative its `event`
   names gives the same verdict. Anything that does not dispatch cleanly goes through
   the full schema, so errors and their messages stay Rasa's.
3. Event.resolve_by_type walked every Event subclass (with inspect.isabstract) for
   every event of every tracker it deserialised; the classes are all defined when
   rasa.shared.core.events is imported, so the name → class table is built once.
4. DaskGraphRunner.run handed every graph run (NLU once, policies twice per message) to
   dask's generic scheduler: ordering, task bookkeeping and callbacks cost about as much
   as the policies themselves (py-spy: ~12 % of the server's CPU per message). Our
   graphs are a dozen nodes run synchronously in one thread, so each node is called
   once, after its inputs, exactly as dask.get does it: same nodes, same arguments, same
   results, same errors. (Unlike dask, a node's output is kept until the run ends: for a
   message that is a few small objects; `rasa train` peaked at 815 MB either way.)
"""

from functools import lru_cache
from typing import Any, Dict, List, Optional, Text, Type

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses


@lru_cache(maxsize=1)
def _full_validator() -> Any:
    """Rasa's complete action-response schema, built and checked once."""
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@lru_cache(maxsize=1)
def _dispatch_validators() -> "tuple[Any, Dict[str, Any]]":
    """(response validator without per-event checks, {event name: that event's validator})."""
    spec = RemoteAction.action_response_format_spec()
    cls = validator_for(spec)
    events = spec["properties"]["events"]
    event_schema = events["items"]
    common = {k: v for k, v in event_schema.items() if k != "oneOf"}
    per_event = {}
    for alternative in event_schema["oneOf"]:
        name = alternative["properties"]["event"]["const"]
        per_event[name] = cls({**common, "allOf": [alternative]})
    envelope = {**spec, "properties": {**spec["properties"],
                                       "events": {k: v for k, v in events.items() if k != "items"}}}
    return cls(envelope), per_event


def _is_valid_action_result(result: Any) -> bool:
    envelope, per_event = _dispatch_validators()
    if not envelope.is_valid(result):
        return False
    for event in result.get("events") or []:
        validator = per_event.get(event.get("event")) if isinstance(event, dict) else None
        if validator is None or not validator.is_valid(event):
            return False
    return True


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    if _is_valid_action_result(result):
        return True
    try:
        _full_validator().validate(result)  # the same verdict, with Rasa's error message
    except ValidationError as e:
        e.message += ". Failed to validate Action server response from API."
        raise
    return True


@lru_cache(maxsize=1)
def _event_classes() -> Dict[Text, Type[Event]]:
    table: Dict[Text, Type[Event]] = {}
    for cls in all_subclasses(Event):
        table.setdefault(cls.type_name, cls)  # first match wins, as in Rasa's loop
    return table


_original_resolve_by_type = Event.resolve_by_type


def _resolve_by_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    found = _event_classes().get(type_name)
    # Unknown names (old "topic" events, errors) keep Rasa's own handling.
    return found if found is not None else _original_resolve_by_type(type_name, default)


def execute_graph(graph: Dict[Text, Any], targets: List[Text]) -> List[Any]:
    """dask.get's semantics for Rasa's graphs: a task is a tuple whose first item is callable,
    its other items are keys of earlier tasks (or literals); anything else is a value."""
    cache: Dict[Text, Any] = {}

    def value(key: Text) -> Any:
        if key not in cache:
            task = graph[key]
            if type(task) is tuple and task and callable(task[0]):
                cache[key] = task[0](*(value(a) if a in graph else a for a in task[1:]))
            else:
                cache[key] = task
        return cache[key]

    return [value(t) for t in targets]


def _run_graph(self: DaskGraphRunner, inputs: Optional[Dict[Text, Any]] = None,
               targets: Optional[List[Text]] = None) -> Dict[Text, Any]:
    run_targets = targets if targets else self._graph_schema.target_names
    # The schema and its nodes never change after the runner is built: prune once per target set.
    built = self.__dict__.setdefault("_graphs_by_targets", {})
    key = tuple(run_targets)
    if key not in built:
        built[key] = self._build_dask_graph(self._graph_schema.minimal_graph_schema(run_targets))
    run_graph = dict(built[key])
    if inputs:
        self._add_inputs_to_graph(inputs, run_graph)
    try:
        return dict(execute_graph(run_graph, run_targets))
    except RuntimeError as e:  # as Rasa's runner: node failures become GraphRunError
        raise GraphRunError("Error running runner.") from e


RemoteAction._validate_action_result = _validate_action_result  # type: ignore[assignment]
Event.resolve_by_type = staticmethod(_resolve_by_type)  # type: ignore[assignment]
DaskGraphRunner.run = _run_graph  # type: ignore[assignment]
