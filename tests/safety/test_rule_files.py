"""The triage rule files (safety/rules/): validation with file:line messages, and proof
that the data, not Python, decides what the detector finds."""

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import List

import pytest

from knowledge.topics import RED_FLAG_KINDS
from nlp.build_pipeline import build
from safety import red_flags, rules_check
from safety.red_flags import RedFlagDetector
from safety.rule_files import RULES_DIR, RuleFileError, check, load_rules
from spacy.language import Language

STOCK = load_rules()


@pytest.fixture(scope="module")
def nlp() -> Language:
    return build()


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A copy of the stock rule files to change."""
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path.name}: update the test to the rule files"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, snippet: str) -> int:
    """The first line of the file that contains snippet (1-based)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if snippet in line:
            return number
    raise AssertionError(f"{snippet!r} not in {path}")


def problems(directory: Path) -> List[str]:
    rules, found = check(directory)
    assert rules is None and found, "the broken rule files were accepted"
    return [str(p) for p in found]


# --------------------------------------------------------------------------- stock files


def test_stock_rules_are_valid_and_cover_every_kind() -> None:
    assert {rule.kind for rule in STOCK.rules} == set(RED_FLAG_KINDS)
    assert STOCK.priority == red_flags.PRIORITY
    assert set(STOCK.priority) == set(RED_FLAG_KINDS)


@pytest.mark.parametrize("rule", STOCK.rules, ids=[f"{r.kind}@{r.where.rsplit(':', 1)[1]}" for r in STOCK.rules])
def test_every_rule_has_a_source_a_reviewer_and_a_review_date(rule) -> None:
    assert rule.source["section"].strip()
    assert rule.source["tags"] and all(tag.strip() for tag in rule.source["tags"])
    assert rule.reviewer.strip()
    assert isinstance(rule.reviewed, dt.date)
    assert rule.means.strip()


def test_every_concept_says_what_it_means() -> None:
    for concept in (*STOCK.concepts.values(), *STOCK.cues.values()):
        assert concept.means.strip() and concept.patterns, concept.name


def test_build_checks_the_rule_files(capsys: pytest.CaptureFixture) -> None:
    assert rules_check.main([]) == 0
    assert "triage rules OK" in capsys.readouterr().out
    build_sh = (Path(__file__).resolve().parents[2] / "scripts" / "build.sh").read_text(encoding="utf-8")
    assert "-m safety.rules_check" in build_sh
    assert build_sh.index("safety.rules_check") < build_sh.index("scripts/train.sh")


# --------------------------------------------------------------------------- validation


BROKEN = [
    # (file, old text, new text, text on the line the error names, words in the message)
    pytest.param("kinds.yml", "all: [PUMP, ALARM_EVENT]", "all: [PUMP, ALARM_EVNT]",
                 "ALARM_EVNT", "unknown concept 'ALARM_EVNT'", id="unknown-concept-in-kind-rule"),
    pytest.param("kinds.yml",
                 '    source: {section: "Red flags: two-tone (critical) pump alarm", tags: [MDT]}\n', "",
                 "kind: pump_alarm", "missing 'source'", id="missing-source"),
    pytest.param("kinds.yml", "tags: [MDT]}", "tags: [MEDTRONIC]}",
                 "MEDTRONIC", "unknown source tag 'MEDTRONIC'", id="unknown-source-tag"),
    pytest.param("kinds.yml", 'tags: [MDT]}\n    reviewer: "pending clinical review (drafted by the engineering team)"\n',
                 "tags: [MDT]}\n", "kind: pump_alarm", "missing 'reviewer'", id="missing-reviewer"),
    pytest.param("kinds.yml", "reviewed: 2026-12-01", "reviewed: 2026-13-01",
                 "2026-13-01", "reviewed must be a date", id="bad-date"),
    pytest.param("kinds.yml", "reviewed: 2026-12-01", "reviewed: last week",
                 "last week", "reviewed must be a date", id="not-a-date"),
    pytest.param("kinds.yml", "kind: pump_alarm", "kind: pump_alarms",
                 "pump_alarms", "unknown kind 'pump_alarms'", id="unknown-kind"),
    pytest.param("kinds.yml", "unless_fired: [child_ingestion]", "unless_fired: [pump_alarm]",
                 "unless_fired: [pump_alarm]", "pump_alarm must be decided first", id="unless-fired-later-kind"),
    pytest.param("concepts.yml", '"stiff neck"', '"stiff neck | sore neck"',
                 "stiff neck | sore neck", "'|' joins single words", id="multi-word-alternative"),
    pytest.param("words.yml", "[mum, mom,", "[mum, my mum,",
                 "my mum", "'my mum' is not one word", id="multi-word-class-word"),
    pytest.param("concepts.yml", '"stiff neck"', '"stiff non-stop|nonstop"',
                 "non-stop", "'non-stop' is several words to spaCy", id="hyphenated-alternative"),
    pytest.param("concepts.yml", '"stiff neck"', '"stiff NECKS"',
                 "NECKS", "unknown word class NECKS", id="unknown-word-class"),
    pytest.param("concepts.yml", '"stiff neck"', '"stiff NUM|neck"',
                 "NUM|neck", "NUM stands alone", id="num-inside-alternatives"),
    pytest.param("concepts.yml", "validator: child_ingest", "validator: child_swallow",
                 "child_swallow", "unknown validator 'child_swallow'", id="unknown-validator"),
    pytest.param("concepts.yml", "validator: {name: took_mg, more_than_mg: 80}", "validator: {name: took_mg}",
                 "validator: {name: took_mg}", "needs more_than_mg", id="validator-without-its-limit"),
    pytest.param("concepts.yml", "name: CHILLS", "name: FLOPPY  # a second FLOPPY",
                 "a second FLOPPY", "duplicate concept FLOPPY", id="duplicate-concept"),
    pytest.param("concepts.yml", '    patterns:\n      - "floppy|limp"', '    pattern:\n      - "floppy|limp"',
                 "pattern:", "unknown field 'pattern'", id="misspelt-field"),
    pytest.param("words.yml", 'words: [not, "no",', "words: [not, no,",
                 "words: [not, no,", "put it in quotes", id="unquoted-no"),
    pytest.param("words.yml", "[will, would]", "[will, would, KINN]",
                 "KINN", "unknown word class KINN", id="unknown-class-in-list"),
    pytest.param("kinds.yml", "all: [FEVERS, {any: [RIGID, CONFUSED]}]", "all: [FEVERS, {any: [RIGID, CONFUSED]]",
                 "{any: [RIGID, CONFUSED]]", "invalid YAML", id="invalid-yaml"),
]


@pytest.mark.parametrize("name, old, new, marker, message", BROKEN)
def test_broken_rule_file_is_reported_at_its_line(
        rules_dir: Path, name: str, old: str, new: str, marker: str, message: str) -> None:
    path = rules_dir / name
    edit(path, old, new)
    line = line_of(path, marker)
    found = problems(rules_dir)
    expected = f"{path}:{line}:"
    assert any(p.startswith(expected) and message in p for p in found), (expected, message, found)


def test_a_kind_without_rules_fails(rules_dir: Path) -> None:
    path = rules_dir / "kinds.yml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  - kind: pump_alarm")
    end = text.index("  # ------------------------------------------------------------------ fever_rigidity")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    found = problems(rules_dir)
    assert any(p.startswith(f"{path}:{line_of(path, 'rules:')}:") and "no rule for kind pump_alarm" in p
               for p in found), found


def test_all_problems_are_reported_at_once(rules_dir: Path) -> None:
    edit(rules_dir / "kinds.yml", "all: [PUMP, ALARM_EVENT]", "all: [PUMP, ALARM_EVNT]")
    edit(rules_dir / "concepts.yml", "validator: child_ingest", "validator: child_swallow")
    edit(rules_dir / "words.yml", "[mum, mom,", "[mum, my mum,")
    found = problems(rules_dir)
    assert {Path(p.split(":", 1)[0]).name for p in found} == {"kinds.yml", "concepts.yml", "words.yml"}


def test_loading_broken_rules_raises_with_the_messages(rules_dir: Path) -> None:
    edit(rules_dir / "kinds.yml", "all: [PUMP, ALARM_EVENT]", "all: [PUMP, ALARM_EVNT]")
    with pytest.raises(RuleFileError, match=re.escape(f"{rules_dir / 'kinds.yml'}:")):
        load_rules(rules_dir)


def test_rules_check_command_prints_file_and_line(rules_dir: Path, capsys: pytest.CaptureFixture) -> None:
    edit(rules_dir / "kinds.yml", "all: [PUMP, ALARM_EVENT]", "all: [PUMP, ALARM_EVNT]")
    assert rules_check.main(["--rules", str(rules_dir)]) == 1
    err = capsys.readouterr().err
    assert f"{rules_dir / 'kinds.yml'}:{line_of(rules_dir / 'kinds.yml', 'ALARM_EVNT')}: " in err
    assert "1 problem(s)" in err


# --------------------------------------------------------------------------- data drives behaviour


def kinds(detector: RedFlagDetector, text: str) -> List[str]:
    return [flag.kind for flag in detector.detect(text)]


def test_a_new_pattern_in_the_files_changes_what_is_detected(nlp: Language, rules_dir: Path) -> None:
    """A clinician adds a way of saying it to concepts.yml; no Python changes."""
    text = "my husband's lips are dusky"
    stock = RedFlagDetector(nlp)
    assert kinds(stock, text) == []

    edit(rules_dir / "concepts.yml", '      - "short of breath"\n',
         '      - "short of breath"\n      - "lips|face|skin BE? dusky"\n')
    changed = RedFlagDetector(nlp, rules=rules_dir)
    assert kinds(changed, text) == ["breathing"]
    assert kinds(stock, text) == []  # the stock detector is untouched
    assert kinds(changed, "she's having a seizure") == ["seizure"]  # the rest still works


def test_a_limit_in_the_files_changes_what_is_detected(nlp: Language, rules_dir: Path) -> None:
    """A validator's limit (the fever threshold) is data too."""
    text = "his temperature is 37.9 and he is rigid"
    assert kinds(RedFlagDetector(nlp), text) == []
    edit(rules_dir / "concepts.yml", "celsius: [38, 45]", "celsius: [37.5, 45]")
    assert kinds(RedFlagDetector(nlp, rules=rules_dir), text) == ["fever_rigidity"]


def test_a_new_kind_rule_in_the_files_changes_what_is_detected(nlp: Language, rules_dir: Path) -> None:
    """Chills with a pump: not a rule in the stock files; a clinician can add one."""
    text = "i have a pump and i've got the chills"
    assert "pump_infection" not in kinds(RedFlagDetector(nlp), text)
    edit(rules_dir / "kinds.yml", "  # ------------------------------------------------------------------ kidney_confusion",
         "  - kind: pump_infection\n"
         "    means: chills in a pump user\n"
         "    all: [PUMP, CHILLS]\n"
         "    source: {section: \"test only\", tags: [LIT]}\n"
         "    reviewer: test\n"
         "    reviewed: 2026-12-01\n\n"
         "  # ------------------------------------------------------------------ kidney_confusion")
    assert "pump_infection" in kinds(RedFlagDetector(nlp, rules=rules_dir), text)


# --------------------------------------------------------------------------- watch_for rules


@pytest.mark.parametrize("text, kind", [
    ("what should i watch for after the MRI with my pump", "pump_withdrawal"),
    ("the nurse said to look out for fever after refills, what else?", "pump_withdrawal"),
    ("we're tapering my daughter off baclofen over 2 weeks, what should i watch out for", "withdrawal_oral"),
    ("my dad has kidney problems and was just prescribed baclofen, what should we watch for", "kidney_confusion"),
    ("any symptoms to watch in my breastfed baby while im on baclofen", "newborn"),
    ("what should i watch for when my mum's baclofen dose goes up", "overdose"),
    ("what do we do if my daughter ever has a seizure on baclofen", "seizure"),
])
def test_a_watch_for_question_gets_its_kinds_warning_signs_and_is_no_emergency(nlp: Language, text: str, kind: str) -> None:
    detector = RedFlagDetector(nlp)
    assert kinds(detector, text) == []  # never opened as an emergency
    assert kind in detector.conditional(text)


def test_watch_for_adds_nothing_to_a_plain_question_or_a_real_emergency(nlp: Language) -> None:
    detector = RedFlagDetector(nlp)
    assert detector.conditional("what is baclofen used for") == []
    assert detector.conditional("how do I store my tablets") == []
    live = "my pump alarm is beeping and I've got a fever, what should I look out for"
    assert kinds(detector, live)  # an emergency now: the emergency advice, not a watch-for bubble


def test_watch_for_rules_are_data_checked_at_their_line(rules_dir: Path) -> None:
    edit(rules_dir / "kinds.yml", "  - kind: kidney_confusion\n    means: 'what to watch for with kidney disease or dialysis'",
         "  - kind: kidney_trouble\n    means: 'what to watch for with kidney disease or dialysis'")
    found = problems(rules_dir)
    line = line_of(rules_dir / "kinds.yml", "kind: kidney_trouble")
    assert any(f"kinds.yml:{line}:" in p and "unknown kind 'kidney_trouble'" in p for p in found), found
    assert STOCK.watch_for and all(r.source and r.reviewer and r.reviewed for r in STOCK.watch_for)
