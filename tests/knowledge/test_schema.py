"""knowledge/schema.py: every kind of bad entry is reported at the right file:line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.schema import (
    ValidationError,
    lexicon_terms,
    load_knowledge,
    load_lexicon,
    load_sources,
    text_problems,
)

MARKER = re.compile(r"#\s*error:\s*(.+?)\s*$")


def expected_markers(root: Path) -> Dict[Tuple[str, int], str]:
    """{(file relative to root, line): expected text} from the '# error: ...' comments."""
    found = {}
    for path in sorted(root.rglob("*.yml")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = MARKER.search(line)
            if match:
                found[(path.relative_to(root).as_posix(), number)] = match.group(1)
    return found


def reported(root: Path) -> List[Tuple[str, int, str, str]]:
    """(file relative to root, line, message, str(problem)) of every problem found."""
    with pytest.raises(ValidationError) as caught:
        load_knowledge(root)
    return [
        (Path(p.path).resolve().relative_to(root.resolve()).as_posix(), p.line, p.message, str(p))
        for p in caught.value.errors
    ]


def test_every_marked_error_is_reported_at_its_line(bad_dir: Path) -> None:
    markers = expected_markers(bad_dir)
    assert len(markers) >= 30, "the bad fixtures should mark each kind of error"
    problems = reported(bad_dir)
    by_place = {(f, line): message for f, line, message, _ in problems}
    missing = [
        f"{f}:{line}: expected '{text}', got {by_place.get((f, line))!r}"
        for (f, line), text in markers.items()
        if text not in by_place.get((f, line), "")
    ]
    assert not missing, "\n".join(missing)


def test_no_problem_is_reported_without_a_marker(bad_dir: Path) -> None:
    markers = expected_markers(bad_dir)
    unexpected = [shown for f, line, _, shown in reported(bad_dir) if (f, line) not in markers]
    assert not unexpected, "\n".join(unexpected)


def test_problems_print_as_path_line_message(bad_dir: Path) -> None:
    for f, line, message, shown in reported(bad_dir):
        assert shown.endswith(f"{f}:{line}: {message}")
        assert re.match(r"^[^:]+:\d+: ", shown)


def test_good_fixture_is_valid(good_dir: Path) -> None:
    knowledge = load_knowledge(good_dir)
    assert [e.id for e in knowledge.entries][:3] == ["dosage-overview", "dosage-maximum", "dosage-liquid"]
    assert knowledge.entries[0].path.endswith("dosage.yml") and knowledge.entries[0].line == 1
    assert knowledge.sources["CA-PM"] == {"title": "Canadian product monograph for pms-Baclofen"}


def test_load_lexicon_returns_plain_validated_data(good_dir: Path) -> None:
    lexicon = load_lexicon(good_dir / "lexicon.yml")
    assert type(lexicon) is dict and type(lexicon["drugs"]) is dict
    assert lexicon["drugs"]["ibuprofen"]["class"] is None
    terms = {t.term: (t.kind, t.target_id) for t in lexicon_terms(lexicon)}
    assert terms["xanax"] == ("drug", "alprazolam")
    assert terms["benzos"] == ("class", "benzodiazepines")
    assert terms["lioresal"] == ("baclofen", "baclofen")
    assert terms["parkinson's medicine"] == ("class", "levodopa")
    assert terms["oral solution"] == ("form", "liquid")


def test_load_lexicon_reports_only_lexicon_problems(bad_dir: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        load_lexicon(bad_dir / "lexicon.yml")
    assert caught.value.errors and all(p.path.endswith("lexicon.yml") for p in caught.value.errors)
    assert str(caught.value).count("\n") == len(caught.value.errors) - 1


def test_load_sources(good_dir: Path, bad_dir: Path) -> None:
    assert load_sources(good_dir / "sources.yml")["TAB"]["title"] == "FDA label for baclofen tablets"
    with pytest.raises(ValidationError, match="NOTITLE"):
        load_sources(bad_dir / "sources.yml")


def test_duplicate_id_across_files_names_both_places(good_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "kb"
    shutil.copytree(good_dir, root)
    (root / "content" / "zz-extra.yml").write_text(
        "- id: other-entry\n  topic: dosage\n  subtopic: children\n  text: Ask your doctor.\n"
        "  source: {doc: TAB, section: Pediatric Use}\n  reviewed: 2026-11-22\n"
        "- id: dosage-maximum\n  topic: dosage\n  subtopic: maximum\n  text: The most is 80 mg a day.\n"
        "  source: {doc: TAB, section: Dosage and Administration}\n  reviewed: 2026-11-22\n",
        encoding="utf-8",
    )
    problems = reported(root)
    assert len(problems) == 1
    f, line, message, _ = problems[0]
    assert (f, line) == ("content/zz-extra.yml", 7)
    assert "duplicate id 'dosage-maximum'" in message and "content/dosage.yml:12" in message


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "file is empty"),
        (b"id: not-a-list\n", "a content file must be a list of entries"),
        (b"- [1, 2]\n", "each entry must be a mapping"),
        (b"\xff\xfe bad bytes", "cannot read file"),
        (b"- {id: x, topic: [dosage], subtopic: overview, text: t, source: {doc: TAB, section: s}, reviewed: 2026-11-22}\n",
         "unknown topic"),
        (b"- {? [a]: 1}\n", "invalid YAML"),
    ],
)
def test_malformed_files_are_reported_not_crashed_on(good_dir: Path, tmp_path: Path, content: bytes, expected: str) -> None:
    root = tmp_path / "kb"
    shutil.copytree(good_dir, root)
    (root / "content" / "zz-bad.yml").write_bytes(content)
    messages = [message for f, _, message, _ in reported(root) if f == "content/zz-bad.yml"]
    assert any(expected in m for m in messages), messages


def test_mapping_where_text_expected_reports_every_field(good_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "kb"
    shutil.copytree(good_dir, root)
    (root / "content" / "zz-bad.yml").write_text(
        "- {id: x, topic: dosage, subtopic: overview, text: 42, source: TAB, reviewed: 2026-11-22T10:00:00}\n",
        encoding="utf-8",
    )
    messages = " | ".join(m for _, _, m, _ in reported(root))
    for part in ("empty text", "source must be a mapping", "reviewed must be a date"):
        assert part in messages


def test_missing_files_are_reported(tmp_path: Path) -> None:
    messages = [m for _, _, m, _ in reported(tmp_path)]
    assert any("cannot read file" in m for m in messages)
    assert any("no content files" in m for m in messages)


# ------------------------------------------------------- dose wording


@pytest.mark.parametrize(
    "text",
    [
        "take 10 three times",
        "Take 20 four times daily.",
        "You can take up to 80 a day.",
        "Start at 5.",
        "Increase by 5 every 3 days.",
        "Take 10 at bedtime.",
        "The usual dose is 20 twice a day.",
        "Take 5 mL three times a day.",
    ],
)
def test_doses_without_units_are_flagged(text: str) -> None:
    assert text_problems(text), text


@pytest.mark.parametrize(
    "text",
    [
        "The most is 80 mg a day, given as 20 mg four times daily.",
        "Tablets come in 5, 10, 15 and 20 mg.",
        "Start with 5 mg three times a day for 3 days.",
        "Store at 20–25 °C (68–77 °F).",
        "Store at 20 to 25 degrees C.",
        "Drowsiness affects 10–63% of people.",
        "In 2019 the FDA added a warning.",
        "Call Poison Control at 1-800-222-1222, or 911 at night.",
        "It is not approved for children under 12 years.",
        "It is approved from age 4 and over.",
        "Coma can last up to 72 hours.",
        "Up to 1 in 10 people get it.",
        "Ozobax has 5 mg in 5 mL.",
        "The pump lasts 5 to 7 years.",
        "Most refills are every 3 to 4 months.",
        "Doses from 30 to more than 300 mg a day were used.",
        "Rats got about 13 times the highest human dose.",
        "The test dose is 50 mcg in 1 mL.",
        "Spinal cord injury at T-6 or above raises the risk.",
        "Take 2 tablets a day.",
        "Refill 3–5 days before the alarm date.",
        "If the next dose is less than 2 h away, skip it.",
    ],
)
def test_ordinary_numbers_are_not_flagged(text: str) -> None:
    assert text_problems(text) == []


def test_ml_needs_mg_in_the_same_sentence() -> None:
    assert text_problems("Fleqsuvy comes in 120 mL bottles.")
    assert text_problems("Use 2.5 mL. That is 5 mg.")
    assert text_problems("For Ozobax DS, 5 mg of baclofen is in 2.5 mL.") == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_text_checks_never_crash(text: str) -> None:
    assert all(isinstance(m, str) for m in text_problems(text))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_loader_never_crashes_on_arbitrary_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    root = tmp_path_factory.mktemp("kb")
    (root / "content").mkdir()
    (root / "content" / "x.yml").write_bytes(data)
    (root / "lexicon.yml").write_bytes(data)
    (root / "sources.yml").write_bytes(data)
    try:
        load_knowledge(root)
    except ValidationError as exc:
        assert exc.errors


def test_brand_forms_name_a_baclofen_brand_and_a_form(tmp_path: Path) -> None:
    real = (Path(__file__).resolve().parents[2] / "knowledge" / "lexicon.yml").read_text()
    assert load_lexicon(Path(__file__).resolve().parents[2] / "knowledge" / "lexicon.yml")["brand_forms"]["ozobax"] == "liquid"
    bad = real.replace("  ozobax: liquid\n", "  ozobax: syrup\n  tylenol: liquid\n")
    (tmp_path / "lexicon.yml").write_text(bad)
    with pytest.raises(ValidationError) as e:
        load_lexicon(tmp_path / "lexicon.yml")
    text = str(e.value)
    assert "brand_forms.ozobax: form must be one of" in text
    assert "brand_forms.tylenol: not one of baclofen's names" in text
