"""The evaluation sets stay apart from the training data (entry questions, NLU examples and the
triage net's examples): a message that is also a training
line would measure memory, not what the assistant does with words nobody taught it."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
import yaml

from answers.training_data import existing_examples
from knowledge import schema

ROOT = Path(__file__).resolve().parents[2]
SETS = [ROOT / "tests/answers/consumer_test.yml", ROOT / "tests/answers/consumer_dev.yml",
        ROOT / "tests/triage/triage_set.yml"]


def _messages(path: Path) -> List[str]:
    """Every turn of the set, but one- and two-word ones ("hi", "and breastfeeding?"):
    those have no other wording, so sharing them with training says nothing."""
    items = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("items") or []
    return [turn for item in items for turn in item.get("turns") or [] if len(turn.split()) > 2]


@pytest.fixture(scope="module")
def training_lines() -> set:
    knowledge = schema.load_knowledge()
    questions = {schema.question_key(q) for entry in knowledge.entries for q in entry.questions}
    examples = (yaml.safe_load((ROOT / "safety/triage_examples.yml").read_text(encoding="utf-8")) or {})["items"]
    triage = {schema.question_key(turn) for item in examples for turn in item.get("turns") or []}
    return questions | triage | {schema.question_key(line) for line in existing_examples()}


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_no_evaluation_message_is_a_training_line(path: Path, training_lines: set) -> None:
    shared = sorted({m for m in _messages(path) if schema.question_key(m) in training_lines})
    assert not shared, f"{path.name}: {len(shared)} messages are also training lines, e.g. {shared[:5]}"
