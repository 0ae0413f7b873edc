"""The conversation harness can fail, and the conversation and story files are sound.

- the checker rejects recorded wrong replies (no disclaimer, missing fact, emergency
  not first, ...) and accepts the right one;
- a conversation whose expectation is deliberately wrong fails against the real stack,
  and the report shows the actual reply;
- the YAML files: enough conversations, every topic, facts the knowledge base states;
- the Rasa test stories: every intent covered, no text copied from NLU data.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Iterator, List, Set

import pytest
import yaml

from actions.compose import APOLOGY as ACTION_APOLOGY
from tests.conversations.runner import (
    TOPIC_TAGS,
    Conversation,
    FormatError,
    Message,
    Turn,
    check_turn,
    load_all,
    load_text,
    rest_sender,
    run_conversation,
    sender_id,
)

ROOT = Path(__file__).resolve().parents[2]
STORIES = ROOT / "tests" / "stories"

# Recorded replies, in the shape the REST channel returns them.
MAX_DOSE = {"text": "The most baclofen by mouth in one day is 80 mg. It is given as 20 mg four times a day.\n"
                    "Source: FDA label for baclofen tablets, Dosage and Administration."}
WRONG_DOSE = {"text": "The most baclofen by mouth in one day is 60 mg.\nSource: made up."}
DISCLAIMER = {"text": "ℹ️ This is general information, not medical advice. Only your prescriber can decide your dose."}
EMERGENCY = {"text": "🚨 Call Poison Control now at 1-800-222-1222.\nSource: Poison Help line."}
GREETING = {"text": "Hello! What would you like to know?",
            "buttons": [{"title": "Side effects", "payload": "/ask_side_effects"}]}

DOSE_TURN = Turn(user="what is the maximum dose?", disclaimer=True, contains=("80 mg",),
                 not_contains=("yes",))
EMERGENCY_TURN = Turn(user="I took too many", disclaimer=True, first_starts_with="🚨",
                      contains=("1-800-222-1222",))


# --------------------------------------------------------------------------- the checker


def test_right_replies_pass() -> None:
    assert check_turn(DOSE_TURN, [MAX_DOSE, DISCLAIMER]) == []
    assert check_turn(EMERGENCY_TURN, [EMERGENCY, MAX_DOSE, DISCLAIMER]) == []
    assert check_turn(Turn(user="hi", disclaimer=False, contains=("HELLO",), buttons=True), [GREETING]) == []


def test_missing_disclaimer_fails() -> None:
    problems = check_turn(DOSE_TURN, [MAX_DOSE])
    assert any("disclaimer" in p for p in problems)


def test_answer_lacking_the_fact_fails() -> None:
    assert "missing '80 mg'" in check_turn(DOSE_TURN, [WRONG_DOSE, DISCLAIMER])


def test_emergency_not_first_fails() -> None:
    problems = check_turn(EMERGENCY_TURN, [MAX_DOSE, EMERGENCY, DISCLAIMER])
    assert "expected the first message to start with '🚨'" in problems
    assert any("comes after a non-emergency message" in p for p in problems)


def test_emergency_expected_but_plain_answer_fails() -> None:
    assert check_turn(EMERGENCY_TURN, [MAX_DOSE, DISCLAIMER])


def test_forbidden_words_fail() -> None:
    yes = {"text": "Yes, you can take 100 mg.\nSource: made up."}
    assert "must not contain 'yes'" in check_turn(DOSE_TURN, [yes, MAX_DOSE, DISCLAIMER])


def test_disclaimer_must_be_last_and_single() -> None:
    assert "the disclaimer is not the last message" in check_turn(DOSE_TURN, [DISCLAIMER, MAX_DOSE])
    assert any("2 disclaimer messages" in p for p in check_turn(DOSE_TURN, [MAX_DOSE, DISCLAIMER, DISCLAIMER]))


def test_small_talk_with_a_disclaimer_fails() -> None:
    turn = Turn(user="hello", disclaimer=False)
    assert "expected no disclaimer, got one" in check_turn(turn, [GREETING, DISCLAIMER])


def test_facts_without_a_disclaimer_fail_even_when_none_expected() -> None:
    assert "facts with a `Source:` line but no disclaimer" in check_turn(Turn(user="x", disclaimer=False), [MAX_DOSE])


def test_empty_reply_and_apology_fail() -> None:
    assert check_turn(Turn(user="x", disclaimer=False), []) == ["no reply at all"]
    apology = [{"text": ACTION_APOLOGY}, DISCLAIMER]
    assert any("apology" in p for p in check_turn(Turn(user="x", disclaimer=True), apology))


def test_contains_any_and_buttons() -> None:
    turn = Turn(user="x", disclaimer=False, contains_any=("no interaction information", "which other"),
                buttons=True)
    problems = check_turn(turn, [{"text": "Something else entirely."}])
    assert "expected buttons, got none" in problems
    assert any("contains none of" in p for p in problems)


def test_run_stops_at_the_failing_turn_and_reports_the_actual_reply() -> None:
    conversation = load_text("""
conversations:
  - id: two-turns
    topic: dosage
    turns:
      - user: hello
        disclaimer: false
      - user: what is the maximum dose?
        contains: ["80 mg"]
        disclaimer: true
      - user: never sent
        disclaimer: false
""")[0]
    replies: Iterator[List[Message]] = iter([[GREETING], [WRONG_DOSE]])
    sent: List[str] = []

    def send(text: str) -> List[Message]:
        sent.append(text)
        return next(replies)

    failure = run_conversation(conversation, send)
    assert failure is not None and failure.turn_number == 2
    assert sent == ["hello", "what is the maximum dose?"]
    report = failure.report()
    for expected in ("'two-turns'", "turn 2 of 3", "what is the maximum dose?", "contains all of ['80 mg']",
                     "missing '80 mg'", "ACTUAL reply", "60 mg", "turn 1 user: 'hello'"):
        assert expected in report, report


# --------------------------------------------------------------------------- the loader


@pytest.mark.parametrize("body,error", [
    ("conversations:\n  - id: a\n    topic: dosage\n    turns:\n      - user: hi\n", "disclaimer"),
    ("conversations:\n  - id: a\n    topic: dosage\n    turns:\n      - user: hi\n        disclaimer: true\n"
     "        contain: [x]\n", "unknown key"),
    ("conversations:\n  - id: a\n    topic: nonsense\n    turns:\n      - user: hi\n        disclaimer: true\n",
     "topic"),
    ("conversations:\n  - id: a\n    topic: dosage\n    turns: []\n", "turns"),
    ("conversations:\n  - id: a\n    topic: dosage\n    turns:\n      - user: hi\n        disclaimer: true\n"
     "        contains: x\n", "list"),
    ("- just a list", "conversations"),
])
def test_loader_rejects_malformed_conversations(body: str, error: str) -> None:
    with pytest.raises(FormatError, match=error):
        load_text(body)


def test_loader_rejects_duplicate_ids(tmp_path: Path) -> None:
    one = "conversations:\n  - id: same\n    topic: dosage\n    turns:\n      - user: hi\n        disclaimer: false\n"
    (tmp_path / "a.yml").write_text(one)
    (tmp_path / "b.yml").write_text(one)
    with pytest.raises(FormatError, match="duplicate"):
        load_all(tmp_path)


def test_repeat_builds_a_long_message() -> None:
    conversation = load_text("conversations:\n  - id: a\n    topic: bad_input\n    turns:\n"
                             "      - user: 'ab '\n        repeat: 3\n        disclaimer: false\n")[0]
    assert conversation.turns[0].user == "ab ab ab "


# --------------------------------------------------------------------------- the conversation files

CONVERSATIONS = load_all()


def test_enough_conversations_over_every_topic_and_both_channels() -> None:
    assert len(CONVERSATIONS) >= 60
    assert all(len(c.turns) >= 1 for c in CONVERSATIONS)
    assert sum(len(c.turns) > 1 for c in CONVERSATIONS) >= 30, "most conversations should be multi-turn"
    assert {c.topic for c in CONVERSATIONS} == set(TOPIC_TAGS)
    assert sum(c.socketio for c in CONVERSATIONS) >= 5


def _knowledge_text() -> str:
    texts = []
    for path in sorted((ROOT / "knowledge" / "content").glob("*.yml")):
        texts += [entry["text"] for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []]
    return " ".join(" ".join(t.split()) for t in texts).casefold()


def test_expected_numbers_are_facts_the_knowledge_base_states() -> None:
    """A number the bot must say ("80 mg", "1-800-222-1222") must come from the knowledge base."""
    knowledge = _knowledge_text()
    unknown = sorted({
        f"{c.id}: {wanted!r}"
        for c in CONVERSATIONS for t in c.turns for wanted in t.contains + t.contains_any
        if re.search(r"\d", wanted) and " ".join(wanted.split()).casefold() not in knowledge
    })
    assert not unknown, f"expected facts not in knowledge/content: {unknown}"


# --------------------------------------------------------------------------- the Rasa test stories


def _nlu_lines() -> Set[str]:
    """Every training and held-out example, normalised."""
    lines: Set[str] = set()
    for path in [*sorted((ROOT / "data" / "nlu").glob("*.yml")), ROOT / "tests" / "nlu" / "heldout.yml"]:
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            for example in (block.get("examples") or "").splitlines():
                example = example.strip()
                if example.startswith("- "):
                    lines.add(_normalise(example[2:]))
    return lines


def _normalise(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})", r"\1", text)  # drop entity annotations
    return " ".join(re.sub(r"[^\w\s']", " ", text.casefold()).split())


def _story_steps() -> List[Dict[str, object]]:
    steps: List[Dict[str, object]] = []
    for path in sorted(STORIES.glob("*.yml")):
        for story in yaml.safe_load(path.read_text(encoding="utf-8"))["stories"]:
            steps += story["steps"]
    return steps


def test_story_files_are_named_for_end_to_end_tests() -> None:
    # `rasa test core --e2e` only reads test_*.yml files; others would silently not run.
    files = list(STORIES.glob("*.yml"))
    assert files and all(f.name.startswith("test_") for f in files)


def test_stories_cover_every_intent_and_the_fallback() -> None:
    domain = yaml.safe_load((ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))
    used = {step["intent"] for step in _story_steps() if "intent" in step}
    assert set(domain["intents"]) | {"nlu_fallback"} <= used
    actions = {step.get("action") for step in _story_steps()}
    assert {"action_answer", "action_emergency", "action_two_stage_fallback", "utter_out_of_scope"} <= actions


def test_story_texts_are_not_copied_from_nlu_data() -> None:
    nlu = _nlu_lines()
    texts = [str(step["user"]).strip() for step in _story_steps() if "user" in step]
    assert len(texts) >= 30
    copied = [t for t in texts if _normalise(t) in nlu]
    assert not copied, f"story texts copied from data/nlu or tests/nlu/heldout.yml: {copied}"


# --------------------------------------------------------------------------- live: a wrong expectation fails

WRONG_EXPECTATIONS = """
conversations:
  - id: deliberately-wrong-dose
    topic: dosage
    turns:
      - user: what is the maximum dose of baclofen by mouth per day
        contains: ["800 mg"]
        disclaimer: true
  - id: deliberately-wrong-disclaimer
    topic: smalltalk
    turns:
      - user: hello
        disclaimer: true
"""

RIGHT_EXPECTATION = """
conversations:
  - id: right-dose
    topic: dosage
    turns:
      - user: what is the maximum dose of baclofen by mouth per day
        contains: ["80 mg", "Source:"]
        disclaimer: true
"""


@pytest.mark.stack
def test_wrong_expectations_fail_against_the_real_stack(stack) -> None:
    wrong_dose, wrong_disclaimer = load_text(WRONG_EXPECTATIONS)
    failure = run_conversation(wrong_dose, rest_sender(stack.rest_url, sender_id(wrong_dose)))
    assert failure is not None, "a reply claiming '800 mg' passed: the harness cannot fail"
    assert failure.problems == ["missing '800 mg'"]
    assert "80 mg" in failure.report()  # the actual reply is shown
    failure = run_conversation(wrong_disclaimer, rest_sender(stack.rest_url, sender_id(wrong_disclaimer)))
    assert failure is not None and any("disclaimer" in p for p in failure.problems)
    assert "Hello" in failure.report()


@pytest.mark.stack
def test_the_same_question_with_the_right_expectation_passes(stack) -> None:
    conversation: Conversation = load_text(RIGHT_EXPECTATION)[0]
    failure = run_conversation(conversation, rest_sender(stack.rest_url, sender_id(conversation)))
    assert failure is None, failure.report() if failure else ""
