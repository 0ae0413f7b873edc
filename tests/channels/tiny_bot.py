"""A throwaway bot for the channel integration tests while the project's model is absent.

It mirrors the real bot's contract where channels care: the same intents for greeting
and a side-effects question, the greeting offers the same four topic buttons, and
`action_answer` (served by a real rasa-sdk action server) replies like
actions/compose.py: facts with a source line, then the disclaimer as the last message.
Trained once and cached by content hash under the system temp dir.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Dict

ROOT = Path(__file__).resolve().parents[2]

FILES: Dict[str, str] = {
    "config.yml": """
recipe: default.v1
language: en
assistant_id: channel-tests
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 2
    max_ngram: 4
  - name: LogisticRegressionClassifier
policies:
  - name: RulePolicy
""",
    "domain.yml": """
version: "3.1"
intents: [greet, capabilities, ask_side_effects, ask_dosage, ask_interactions, ask_pump]
actions: [action_answer]
responses:
  utter_greet:
    - text: "Hello! I can answer questions about baclofen. What would you like to know?"
      buttons:
        - {title: "Side effects", payload: "/ask_side_effects"}
        - {title: "Usual dose", payload: "/ask_dosage"}
        - {title: "Other medicines", payload: "/ask_interactions"}
        - {title: "Intrathecal pump", payload: "/ask_pump"}
  utter_capabilities:
    - text: "I answer questions about baclofen from a checked, cited knowledge base."
session_config:
  session_expiration_time: 60
  carry_over_slots_to_new_session: false
""",
    "data/nlu.yml": """
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hi
      - hey there
      - good morning
      - hi bot
  - intent: capabilities
    examples: |
      - what can you do
      - help
      - what do you know about
  - intent: ask_side_effects
    examples: |
      - what are the side effects of baclofen?
      - side effects of baclofen
      - does baclofen make you sleepy
      - baclofen side effects
      - can baclofen cause dizziness
  - intent: ask_dosage
    examples: |
      - what is the usual dose of baclofen
      - how much baclofen can I take
      - baclofen dose
      - maximum dose of baclofen
  - intent: ask_interactions
    examples: |
      - can I take baclofen with oxycodone
      - baclofen and alcohol
      - does baclofen interact with other medicines
  - intent: ask_pump
    examples: |
      - how does the baclofen pump work
      - intrathecal pump refill
      - my pump alarm is beeping
""",
    "data/rules.yml": """
version: "3.1"
rules:
  - rule: greet
    steps: [{intent: greet}, {action: utter_greet}]
  - rule: capabilities
    steps: [{intent: capabilities}, {action: utter_capabilities}]
  - rule: side effects
    steps: [{intent: ask_side_effects}, {action: action_answer}]
  - rule: dosage
    steps: [{intent: ask_dosage}, {action: action_answer}]
  - rule: interactions
    steps: [{intent: ask_interactions}, {action: action_answer}]
  - rule: pump
    steps: [{intent: ask_pump}, {action: action_answer}]
""",
    "tiny_actions.py": '''
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.compose import disclaimer


class ActionAnswer(Action):
    def name(self) -> str:
        return "action_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List:
        topic = (tracker.latest_message.get("intent") or {}).get("name", "").replace("ask_", "")
        dispatcher.utter_message(text=f"Test answer about {topic}.\\nSource: channel test fixture")
        dispatcher.utter_message(text=disclaimer("clinician"))
        return []
''',
}


def content_hash() -> str:
    digest = hashlib.sha256()
    for name in sorted(FILES):
        digest.update(name.encode() + FILES[name].encode())
    digest.update((ROOT / ".venv" / "bin" / "rasa").read_bytes())
    return digest.hexdigest()[:16]


def tiny_bot_dir() -> Path:
    """The bot's files (written if missing) in a cache folder named by their hash."""
    folder = Path(tempfile.gettempdir()) / f"baclofen-channel-test-bot-{content_hash()}"
    for name, text in FILES.items():
        path = folder / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.lstrip())
    return folder


def tiny_model() -> Path:
    """Train the tiny bot once (about half a minute) and return the model path."""
    folder = tiny_bot_dir()
    model = folder / "models" / "tiny.tar.gz"
    if model.exists():
        return model
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "rasa"), "train", "--config", "config.yml", "--domain", "domain.yml",
         "--data", "data", "--out", "models", "--fixed-model-name", "tiny"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=590,
    )
    if result.returncode != 0 or not model.exists():
        raise RuntimeError(f"training the tiny test bot failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return model
