"""Our Rasa performance patches decide exactly as Rasa's own code does."""

from pathlib import Path
from typing import Any, Dict, List

import dask
import jsonschema
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.engine.exceptions import GraphComponentException
from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema, SchemaNode
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
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


# --- graph runs without dask ------------------------------------------------------------

class Add(GraphComponent):
    """A pure node that records its calls, to check each node runs once and in order."""

    calls: List[str] = []

    def __init__(self, name: str, config: Dict[str, Any]) -> None:
        self.name, self.config = name, config

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: Any, resource: Any,
               execution_context: ExecutionContext) -> "Add":
        return cls(execution_context.node_name or "", config)

    def run(self, **values: int) -> int:
        Add.calls.append(self.name)
        if self.config.get("fail"):
            raise RuntimeError("this node fails")
        return self.config.get("add", 0) + sum(values.values())


def node(needs: Dict[str, str], **config: Any) -> SchemaNode:
    return SchemaNode(needs=needs, uses=Add, constructor_name="create", fn="run", config=config)


SCHEMA = GraphSchema({
    "a": node({"x": "message"}, add=1),
    "b": node({"x": "a"}, add=10),
    "c": node({"x": "a", "y": "b"}, add=100),
    "unused": node({"x": "a"}, add=1000),
    "broken": node({"x": "a"}, fail=True),
})


def runner(tmp_path: Path) -> DaskGraphRunner:
    return DaskGraphRunner(SCHEMA, LocalModelStorage(tmp_path), ExecutionContext(SCHEMA, "m"))


def dask_graph(ours: DaskGraphRunner, targets: List[str]) -> Dict[str, Any]:
    """The graph Rasa's own run() hands to dask.get for these targets and message 5."""
    graph = ours._build_dask_graph(SCHEMA.minimal_graph_schema(targets))
    ours._add_inputs_to_graph({"message": 5}, graph)
    return graph


@pytest.mark.parametrize("targets", [["c"], ["b", "c"], ["a"], ["c", "unused"]])
def test_graph_runs_give_dasks_results_and_calls(tmp_path: Path, targets: List[str]) -> None:
    ours = runner(tmp_path)
    Add.calls = []
    got = ours.run(inputs={"message": 5}, targets=targets)
    our_calls = Add.calls
    Add.calls = []
    expected = dict(dask.get(dask_graph(ours, targets), targets))
    assert got == expected
    assert sorted(our_calls) == sorted(Add.calls)  # every needed node once, nothing else
    assert len(our_calls) == len(set(our_calls))


def test_graph_nodes_run_after_their_inputs(tmp_path: Path) -> None:
    Add.calls = []
    assert runner(tmp_path).run(inputs={"message": 5}, targets=["c"]) == {"c": (5 + 1) + (5 + 1 + 10) + 100}
    assert Add.calls == ["a", "b", "c"]


def test_repeated_runs_use_each_runs_inputs(tmp_path: Path) -> None:
    ours = runner(tmp_path)
    assert ours.run(inputs={"message": 1}, targets=["b"]) == {"b": 12}
    assert ours.run(inputs={"message": 2}, targets=["b"]) == {"b": 13}


def test_a_failing_node_raises_as_rasas_runner_does(tmp_path: Path) -> None:
    ours = runner(tmp_path)
    with pytest.raises(GraphComponentException, match="node broken") as by_dask:
        dask.get(dask_graph(ours, ["broken"]), ["broken"])
    with pytest.raises(GraphComponentException, match="node broken") as by_ours:
        ours.run(inputs={"message": 5}, targets=["broken"])
    assert str(by_ours.value.__cause__) == str(by_dask.value.__cause__) == "this node fails"


def test_graph_runner_patch_is_applied() -> None:
    assert DaskGraphRunner.run is rasa_patches._run_graph
