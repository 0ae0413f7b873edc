"""The redaction gate: recall and over-redaction on the labelled sets, and the cost per message.

Floors are the measured figures (docs/privacy.md), so a change that loses recall or starts
removing medical details fails here."""

from __future__ import annotations

import time

import pytest

from privacy.evaluate import SET, evaluate, load_set
from privacy.redact import redact

# Measured (privacy/evaluate.py): tuned set recall 1.000, over-redaction 0.000; held-out
# set recall 0.875 (14 of 16), over-redaction 0.000. The tuned floor leaves one miss of 70.
TUNED = dict(recall=0.98, over_redaction=0.0, clean_altered=0.0)
HELD_OUT = dict(recall=0.875, over_redaction=0.0, clean_altered=0.0)


@pytest.mark.parametrize("path,floor", [(SET, TUNED), (SET.parent / "redaction_heldout.yml", HELD_OUT)],
                         ids=["tuned-set", "held-out-set"])
def test_redaction_meets_the_measured_floor(path, floor) -> None:
    messages = load_set(path)
    result = evaluate(messages=messages)
    assert result.recall >= floor["recall"], result.misses
    assert result.over_redaction <= floor["over_redaction"], result.damaged
    assert result.clean_altered <= floor["clean_altered"], result.damaged


def test_the_labelled_set_is_large_and_mostly_ordinary() -> None:
    messages = load_set()
    assert len(messages) >= 100
    assert sum(1 for m in messages if not m["pii"]) >= 50  # plenty with no personal data


def test_a_phone_number_becomes_a_placeholder_and_the_dose_survives() -> None:
    assert redact("call me on 07700 900123") == "call me on <PHONE>"
    assert redact("my son, 6, takes 5 mg three times a day") == "my son, 6, takes 5 mg three times a day"
    assert redact("I'm Tom, born 12/04/1987, 50 mcg/day via the pump") == "I'm <NAME>, born <DOB>, 50 mcg/day via the pump"
    assert redact("I'm Tom's mum") == "I'm <NAME>'s mum"  # the possessive stays, the name goes
    assert redact("my pump was fitted at St Mary's") == "my pump was fitted at St Mary's"  # a hospital


def test_redaction_costs_well_under_a_millisecond_a_message() -> None:
    texts = [m["text"] for m in load_set()] * 20
    start = time.perf_counter()
    for text in texts:
        redact(text)
    per_message_ms = 1000 * (time.perf_counter() - start) / len(texts)
    # Measured about 0.04 ms; the bound leaves room for a loaded machine.
    assert per_message_ms < 1.0, per_message_ms


@pytest.mark.parametrize("value", [None, "", 42, "   "])
def test_odd_values_pass_through(value) -> None:
    assert redact(value) == value
