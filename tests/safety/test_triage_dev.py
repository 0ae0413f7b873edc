"""The triage dev set (safety/triage_examples.yml): passive and indirect self-harm, one
strong withdrawal sign in a pump user, and look-alikes that must stay calm. Written by the
team (and a second batch by an outside writer) for tuning the red-flag rules, so it guards
against regressions; the independent measure is scripts/triage_gate.py on
tests/triage/triage_set.yml.

An item's label applies to its last turn. A multi-turn item is judged as the bot judges
it: the last message alone (safety.red_flags.detect), or the last two together
(safety.red_flags.detect_across, which the actions run on every turn)."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
import yaml

from safety.red_flags import detect, detect_across

ITEMS = yaml.safe_load((Path(__file__).resolve().parents[2] / "safety" / "triage_examples.yml").read_text())["items"]


def flagged(turns: List[str]) -> List[str]:
    """Kinds the bot reports on the last turn of a conversation."""
    kinds = [f.kind for f in detect(turns[-1])]
    if len(turns) > 1:
        kinds += [f.kind for f in detect_across(turns[-2], turns[-1])]
    return kinds


def shown(turns: List[str]) -> str:
    return " || ".join(turns)


def _emergent_params() -> List[object]:
    """Emergent items; a known gap (`gap:` in the file, why the rules miss it) is expected to
    be missed, strictly: when a rule starts catching it, the test fails until the gap note
    is removed, so the file always says which emergencies the rules do not catch."""
    params: List[object] = []
    for item in ITEMS:
        if item["level"] != "emergent":
            continue
        marks = [pytest.mark.xfail(strict=True, reason=f"known gap: {item['gap']}")] if item.get("gap") else []
        params.append(pytest.param(item, id=item["id"], marks=marks))
    return params


def test_known_gaps_are_few_and_explained():
    gaps = [i for i in ITEMS if i.get("gap")]
    assert all(i["level"] == "emergent" and len(i["gap"]) > 20 for i in gaps)
    assert len(gaps) <= 5, [i["id"] for i in gaps]


@pytest.mark.parametrize("item", _emergent_params())
def test_an_emergency_in_peoples_words_is_flagged(item):
    assert flagged(item["turns"]), shown(item["turns"])


@pytest.mark.parametrize("item", [i for i in ITEMS if i["level"] != "emergent"], ids=lambda i: i["id"])
def test_alarming_words_that_are_not_an_emergency_stay_calm(item):
    assert not flagged(item["turns"]), shown(item["turns"])
