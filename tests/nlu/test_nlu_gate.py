"""The NLU gate scores only held-out lines the model was not trained on."""

from pathlib import Path

import yaml
from nlu_gate import normalised, unseen_heldout  # scripts/, put on sys.path by tests/conftest.py

TRAINING = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - Hello there!
- intent: ask_interactions
  examples: |
    - can I take [tramadol](drug) with baclofen
"""
HELDOUT = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - HI
    - hello   there
    - good evening
- intent: ask_interactions
  examples: |
    - can I take [tramadol](drug) with baclofen?
    - is [oxycodone](drug) ok with lioresal
"""


def test_normalised_ignores_case_spacing_and_end_punctuation() -> None:
    assert normalised("  Hello   There?! ") == normalised("hello there") == "hello there"
    assert normalised("what's up") != normalised("whats up")  # inner characters still count


def test_lines_also_in_training_are_left_out_and_annotations_kept(tmp_path: Path) -> None:
    (tmp_path / "train.yml").write_text(TRAINING)
    (tmp_path / "heldout.yml").write_text(HELDOUT)
    path, left_out = unseen_heldout(tmp_path / "heldout.yml", [tmp_path / "train.yml"], tmp_path / "out")
    assert left_out == 3
    kept = {block["intent"]: block["examples"] for block in yaml.safe_load(path.read_text())["nlu"]}
    assert kept == {"greet": "- good evening\n", "ask_interactions": "- is [oxycodone](drug) ok with lioresal\n"}
