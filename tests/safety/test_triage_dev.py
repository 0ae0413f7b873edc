"""The triage dev set (tests/triage/triage_dev.yml): passive and indirect self-harm, one
strong withdrawal sign in a pump user, and look-alikes that must stay calm. Written by the
team for tuning the red-flag rules, so it guards against regressions; the independent
measure is scripts/triage_gate.py on tests/triage/triage_set.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from safety.red_flags import detect

ITEMS = yaml.safe_load((Path(__file__).resolve().parents[1] / "triage" / "triage_dev.yml").read_text())["items"]


@pytest.mark.parametrize("item", [i for i in ITEMS if i["level"] == "emergent"], ids=lambda i: i["id"])
def test_an_emergency_in_peoples_words_is_flagged(item):
    assert detect(item["turns"][-1]), item["turns"][-1]


@pytest.mark.parametrize("item", [i for i in ITEMS if i["level"] != "emergent"], ids=lambda i: i["id"])
def test_alarming_words_that_are_not_an_emergency_stay_calm(item):
    assert not detect(item["turns"][-1]), item["turns"][-1]
