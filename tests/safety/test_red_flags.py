"""Red-flag detector: gates on the shared test sets, plus negation and hypotheticals.

The gates (100% of red_flags.yml flagged with an accepted kind, at most 2% of
ordinary.yml flagged) are measured on a pipeline built here from the real
lexicon, so the test does not depend on a stale build/ directory.
"""

import time
from pathlib import Path
from typing import List

import pytest
import yaml

from knowledge.topics import RED_FLAG_KINDS
from nlp.build_pipeline import build
from nlp.pipeline import load_pipeline
from safety import red_flags
from safety.red_flags import RedFlagDetector, detector_for

HERE = Path(__file__).parent
RED_FLAGS = yaml.safe_load((HERE / "red_flags.yml").read_text(encoding="utf-8"))
ORDINARY = yaml.safe_load((HERE / "ordinary.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pipeline_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spacy") / "baclofen_nlp"
    build().to_disk(out)
    return out


@pytest.fixture(scope="module")
def detector(pipeline_path: Path) -> RedFlagDetector:
    return detector_for(load_pipeline(pipeline_path))


def kinds(detector: RedFlagDetector, text: str) -> List[str]:
    return [flag.kind for flag in detector.detect(text)]


# --------------------------------------------------------------------------- gates


def test_gates_on_the_shared_test_sets(detector: RedFlagDetector) -> None:
    assert len(RED_FLAGS) >= 70 and len(ORDINARY) >= 220
    missed, wrong_kind, first_kind_ok = [], [], 0
    for item in RED_FLAGS:
        found = kinds(detector, item["text"])
        accepted = {item["kind"], *item.get("also", [])}
        if not found:
            missed.append(item["text"])
        elif not accepted & set(found):
            wrong_kind.append((item["text"], item["kind"], found))
        elif found[0] in accepted:
            first_kind_ok += 1
    false_alarms = [(i["text"], kinds(detector, i["text"])) for i in ORDINARY if kinds(detector, i["text"])]

    recall = (len(RED_FLAGS) - len(missed) - len(wrong_kind)) / len(RED_FLAGS)
    false_rate = len(false_alarms) / len(ORDINARY)
    print(f"\nred-flag recall (kind accepted): {recall:.1%} of {len(RED_FLAGS)}; "
          f"first kind accepted: {first_kind_ok}/{len(RED_FLAGS)}; "
          f"false alarms: {false_rate:.1%} of {len(ORDINARY)}")
    assert not missed, missed
    assert not wrong_kind, wrong_kind
    assert false_rate <= 0.02, false_alarms


def test_latency_per_message(detector: RedFlagDetector) -> None:
    texts = [i["text"] for i in RED_FLAGS + ORDINARY]
    for text in texts:  # warm caches
        detector.detect(text)
    cpu, wall = [], []
    for _ in range(3):
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        for text in texts:
            detector.detect(text)
        cpu.append((time.process_time() - cpu_start) * 1000 / len(texts))
        wall.append((time.perf_counter() - wall_start) * 1000 / len(texts))
    print(f"\nred-flag latency per message: {min(cpu):.2f} ms CPU, {min(wall):.2f} ms wall "
          f"(best of 3 rounds over {len(texts)} messages)")
    # CPU time, so a busy CI machine does not make this flaky; typical is ~0.6-1 ms.
    assert min(cpu) < 2.0


# --------------------------------------------------------------------------- behaviour


def test_kinds_are_the_emergency_subtopics() -> None:
    assert set(red_flags.KINDS) == set(RED_FLAG_KINDS)
    assert set(red_flags.PRIORITY) == set(RED_FLAG_KINDS)


@pytest.mark.parametrize("text, kind", [
    ("he's having a seizure", "seizure"),
    ("I took 20 tablets", "overdose"),
    ("my son swallowed two of my tablets", "child_ingestion"),
    ("my toddler got hold of my pills", "child_ingestion"),
    ("I gave my son 50mg instead of 5mg", "child_ingestion"),
    ("my wife took 30 of her pills an hour ago", "overdose"),
    ("I accidentally took a double dose", "overdose"),
    ("we can't get him to wake up", "unresponsive"),
    ("won't wake up after baclofen", "unresponsive"),
    ("can't breathe", "breathing"),
    ("he is out cold", "unresponsive"),
    ("she's not breathing", "breathing"),
    ("his breathing is very shallow", "breathing"),
    ("my pump alarm keeps going off", "pump_alarm"),
    ("Missed my refill, pump is empty and I'm itchy all over", "pump_withdrawal"),
    ("the skin around my pump is red and there is pus", "pump_infection"),
    ("He has a temperature of 104 and is rigid", "fever_rigidity"),
    ("I stopped baclofen 3 days ago and now I'm seeing things", "withdrawal_oral"),
    ("my newborn keeps twitching, I took baclofen in pregnancy", "newborn"),
    ("I am on dialysis and I feel very confused since baclofen", "kidney_confusion"),
    ("I want to end my life", "self_harm"),
    ("this is an emergency", "general"),
])
def test_real_situations_fire(detector: RedFlagDetector, text: str, kind: str) -> None:
    assert kind in kinds(detector, text)


@pytest.mark.parametrize("text", [
    "he is having siezures",          # misspelt (fixed by the pipeline's spelling step)
    "mum took 15 of her baclofin",    # lexicon misspelling of a baclofen name
    "HE'S HAVING A SEIZURE!!!",
])
def test_spelling_and_case_do_not_hide_a_flag(detector: RedFlagDetector, text: str) -> None:
    assert kinds(detector, text)


@pytest.mark.parametrize("text", [
    "no fever and no stiffness",
    "I'm not confused",
    "he hasn't had a seizure",
    "she is not having any trouble breathing",
    "without fever or neck stiffness, just a question about refills",
    "denies any seizures since the dose change",
    "my pump isn't alarming",
    "no redness or swelling at the pump site",
    "I'm not suicidal",
    "my spasticity is not responding to baclofen",
])
def test_negated_signs_do_not_fire(detector: RedFlagDetector, text: str) -> None:
    assert kinds(detector, text) == []


def test_negation_stays_in_its_clause(detector: RedFlagDetector) -> None:
    assert kinds(detector, "no fever, but she is having a seizure") == ["seizure"]
    assert kinds(detector, "I'm not sure, but I think he took too many") == ["overdose"]
    assert kinds(detector, "my baby won't stop shaking, I took baclofen when pregnant") == ["newborn"]


@pytest.mark.parametrize("text", [
    "what are the signs of overdose?",
    "can baclofen cause seizures?",
    "what happens if you take too many?",
    "what should I do if my pump alarm goes off?",
    "if my child swallows a tablet what should I do",
    "what if I took a double dose by mistake?",
    "would I get a fever if I stop suddenly",
    "will my newborn be jittery if I take baclofen",
    "is being unable to wake a sign of overdose",
    "is hallucinating after stopping baclofen common",
    "does the pump beep when it's low?",
    "how do i know if my child has swallowed baclofen",
    "is suicidal thinking a side effect",
    "what does a critical alarm mean",
])
def test_general_and_hypothetical_questions_do_not_fire(detector: RedFlagDetector, text: str) -> None:
    assert kinds(detector, text) == []


@pytest.mark.parametrize("text", [
    "I had a seizure 10 years ago, is baclofen safe",
    "my mum used to have seizures but they stopped",
    "I've had seizures before but not since 2010",
    "I stopped baclofen last year and had no problems",
])
def test_past_history_does_not_fire(detector: RedFlagDetector, text: str) -> None:
    assert kinds(detector, text) == []


@pytest.mark.parametrize("text", [
    "I had too much to drink last night, can I take baclofen?",
    "I had double vision yesterday",
    "my breast pump is beeping",
    "i take 4 tablets a day",
    "I took 20 mg this morning",
    "my son took his tablets this morning",
    "my son swallowed his tablet whole, is that ok",
    "my son got into trouble at school, does baclofen affect mood",
    "I'm confused about how to take my dose on dialysis",
    "I can't wake up in the mornings since starting baclofen",
    "where is the nearest emergency department",
    "my son is fitting his new shoes",
    "i don't want to wake up groggy, when should i take it?",
    "this is my last message for today, thanks",
    "we've got a plan for tapering with the GP",
    "my refill got moved to next week, is that ok?",
    "my mum is in a bad way with her back pain, can she take baclofen?",
])
def test_everyday_uses_of_red_flag_words_do_not_fire(detector: RedFlagDetector, text: str) -> None:
    assert kinds(detector, text) == []


@pytest.mark.parametrize("text", [
    "back in 2019 I stopped baclofen cold turkey and hallucinated for two days",
    "I had a seizure in 2015 when I stopped baclofen",
    "I had a bad reaction after a pump refill back in March, really floppy",
])
def test_a_year_or_month_long_past_does_not_fire(detector: RedFlagDetector, text: str) -> None:
    assert kinds(detector, text) == []


def test_a_number_of_days_is_not_a_year(detector: RedFlagDetector) -> None:
    # "in 2 days" is not "in 2019": the spasms came back, now
    assert kinds(detector, "I have an ITB pump and my spasms came back in 2 days") == ["pump_withdrawal"]


def test_never_before_is_now_not_history(detector: RedFlagDetector) -> None:
    assert kinds(detector, "my daughter is having a seizure, she's never had one before") == ["seizure"]


def test_having_a_pump_is_not_history(detector: RedFlagDetector) -> None:
    # "5 months ago" is about the last refill; the pump (a standing fact) is still there
    assert "pump_withdrawal" in kinds(
        detector, "pins and needles everywhere. i have an intrathecal pump, last refilled maybe 5 months ago?")


@pytest.mark.parametrize("text", [
    "Took my son to A&E last night after he swallowed one of my tablets. They monitored him and he's home and completely fine.",
    "The pump wound was a bit red, the clinic saw her yesterday and gave antibiotics. It's looking much better.",
    "my husband took his tablets twice this morning, we rang poison help and he's fine now, wide awake",
])
def test_an_event_already_handled_does_not_fire(detector: RedFlagDetector, text: str) -> None:
    assert kinds(detector, text) == []


@pytest.mark.parametrize("text, kind", [
    # a new event after the resolution is live
    ("the ambulance took him in and he's fine now but he just had another seizure", "seizure"),
    # care advised going in, and it has not happened: not handled
    ("I took 20 tablets. I called 111 and they said go to A&E. I feel fine now", "overdose"),
    # "seems fine" with no care is not handled
    ("my son swallowed 3 of my tablets, he seems fine now", "child_ingestion"),
    # a resolution that is negated is none
    ("the clinic saw her for the red wound around her pump but she's not much better", "pump_infection"),
])
def test_not_handled_still_fires(detector: RedFlagDetector, text: str, kind: str) -> None:
    assert kind in kinds(detector, text)


@pytest.mark.parametrize("text", [
    "I just want to know if 40 of the 20mg is enough",
    "would 30 tablets be enough",
])
def test_asking_if_a_number_of_tablets_is_enough_is_self_harm(detector: RedFlagDetector, text: str) -> None:
    assert kinds(detector, text) == ["self_harm"]


@pytest.mark.parametrize("text", [
    "is 20mg enough?",
    "would 10mg be enough to help my spasms?",
    "i have 40 of the 10mg left, is that enough for the month?",
    "are 30 tablets enough for my holiday?",
])
def test_enough_for_a_purpose_or_a_dose_is_ordinary(detector: RedFlagDetector, text: str) -> None:
    assert kinds(detector, text) == []


def test_worry_and_doubt_still_fire(detector: RedFlagDetector) -> None:
    assert "child_ingestion" in kinds(detector, "I don't know if my toddler swallowed any of my pills")
    assert "overdose" in kinds(detector, "I think I took too many")


def test_self_harm_fires_even_as_a_question(detector: RedFlagDetector) -> None:
    assert kinds(detector, "if I took all my tablets would it kill me") [:1] == ["self_harm"]


def test_flag_carries_the_matched_words(detector: RedFlagDetector) -> None:
    text = "Help, my dad is having a seizure!"
    [flag] = detector.detect(text)
    assert flag.kind == "seizure"
    assert text[flag.start:flag.end] == flag.text == "having a seizure"


def test_most_specific_kind_comes_first(detector: RedFlagDetector) -> None:
    assert kinds(detector, "dad stopped his baclofen cold turkey and had a fit this morning") == [
        "withdrawal_oral", "seizure"]


ODD_INPUTS = [None, 42, "", "   ", "\x00\x07", "🙂" * 500, "<script>x</script>",
              "seizure " * 3000, "\ud800 broken surrogate"]


@pytest.mark.parametrize("text", ODD_INPUTS, ids=[f"odd{i}" for i in range(len(ODD_INPUTS))])
def test_never_raises(detector: RedFlagDetector, text: object) -> None:
    assert isinstance(detector.detect(text), list)  # type: ignore[arg-type]


def test_module_level_detect_uses_the_configured_pipeline(
        pipeline_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACLOFEN_SPACY_PATH", str(pipeline_path))
    assert [f.kind for f in red_flags.detect("she just had a seizure")] == ["seizure"]


def test_module_level_detect_without_a_pipeline_returns_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("BACLOFEN_SPACY_PATH", str(tmp_path / "missing"))
    assert red_flags.detect("she just had a seizure") == []
    assert "unavailable" in caplog.text


def test_pattern_language() -> None:
    assert red_flags.compile_pattern("took|had NUM? * CONTAINER") == [
        {"NORM": {"IN": ["took", "had"]}}, {"LIKE_NUM": True, "OP": "?"}, {"OP": "?"},
        {"NORM": {"IN": list(red_flags.WORDS["CONTAINER"])}}]
    with pytest.raises(ValueError, match="PILLZ"):
        red_flags.compile_pattern("took PILLZ")
