"""Checks over the real knowledge base (knowledge/content, sources.yml, lexicon.yml).

These fail, not skip, when the content is missing: a build without content
must not look green.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator, List

import pytest

from knowledge import store
from knowledge.build import build
from knowledge.db import ENV_VAR
from knowledge.schema import KNOWLEDGE_DIR, Knowledge, ValidationError, content_files, load_knowledge
from knowledge.topics import EMERGENCY, RED_FLAG_KINDS, TOPICS
from tests.support.readability import grade

MAX_GRADE = 8.0
MAXIMUM_ORAL_MG_PER_DAY = 80
NO_INFO = "Our sources list no interaction information for {} — ask your pharmacist."

# A sentence that states a limit and speaks of a day; the mg figures in it,
# except per-dose amounts ("20 mg four times a day"), range starts and
# concentrations ("5 mg/5 mL").
_LIMIT_WORDS = re.compile(
    r"\b(?:max(?:imum)?|the most|at most|highest|no more than|not more than|up to|limit|top dose)\b", re.I
)
_DAY = re.compile(r"\b(?:day|daily|24 hours)\b", re.I)
_MG_FIGURE = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:mg|milligrams?)\b"
    r"(?!\s*(?:once|twice|(?:one|two|three|four|five|six|\d+)\s+times|per dose|each dose|a dose|at a time"
    r"|/\s*\d*\s*ml|(?:to|–|-)\s*\d))",
    re.I,
)


def stated_daily_maximums(text: str) -> List[float]:
    """mg figures in sentences that state a daily limit ("the most in one day is 80 mg")."""
    found = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        if _LIMIT_WORDS.search(sentence) and _DAY.search(sentence):
            found.extend(float(m.group(1)) for m in _MG_FIGURE.finditer(sentence))
    return found


@pytest.fixture(scope="module")
def real_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Knowledge]:
    """The real content, validated and built into a fresh SQLite database for the store."""
    if not content_files(KNOWLEDGE_DIR):
        pytest.fail(f"no knowledge content: {KNOWLEDGE_DIR / 'content'}/*.yml is missing")
    try:
        knowledge = load_knowledge()
    except ValidationError as exc:
        pytest.fail(f"the real knowledge base is invalid:\n{exc}")
    url = f"sqlite:///{tmp_path_factory.mktemp('real-kb') / 'knowledge.db'}"
    build(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV_VAR, url)
        store.reset()
        yield knowledge
    store.reset()


def test_every_entry_has_a_source_and_passes_the_schema(real_kb: Knowledge) -> None:
    assert len(real_kb.entries) >= 50
    for item in real_kb.entries:
        stored = store.entry(item.id)
        assert stored is not None and stored.source_doc in real_kb.sources and stored.source_section
        assert stored.source_title == " ".join(real_kb.sources[stored.source_doc]["title"].split())
        assert stored.title and 3 <= len(stored.title) <= 70


def test_every_topic_answers_and_every_class_has_an_entry(real_kb: Knowledge) -> None:
    missing = [t for t in TOPICS if not store.entries(t)]
    assert not missing, f"topics without an overview entry: {missing}"
    kinds = {e.subtopic for e in real_kb.entries if e.topic == EMERGENCY}
    assert not set(RED_FLAG_KINDS) - kinds, f"red-flag kinds without an entry: {set(RED_FLAG_KINDS) - kinds}"
    classes = real_kb.lexicon["classes"]
    without = [c for c in classes if not any(e.topic == "interactions" and e.subtopic == c for e in real_kb.entries)]
    assert not without, f"interaction classes without an entry: {without}"


def test_named_drugs_resolve(real_kb: Knowledge) -> None:
    xanax = store.resolve_drug("Xanax")
    assert xanax is not None and (xanax.drug_id, xanax.class_id) == ("alprazolam", "benzodiazepines")
    sinemet = store.resolve_drug("Sinemet")
    assert sinemet is not None and sinemet.class_id == "levodopa"
    assert "levodopa" in sinemet.drug_id and "carbidopa" in sinemet.drug_id
    misspelt = store.resolve_drug("xanex")
    assert misspelt is not None and misspelt.drug_id == "alprazolam"
    assert store.interaction("Xanax").entries[0].subtopic == "benzodiazepines"


def test_every_lexicon_term_resolves_to_its_drug(real_kb: Knowledge) -> None:
    wrong = []
    for drug_id, drug in real_kb.lexicon["drugs"].items():
        for term in drug["terms"]:
            match = store.resolve_drug(term)
            if match is None or match.drug_id != drug_id or match.class_id != drug["class"]:
                wrong.append(f"{term} → {match}")
    assert not wrong, "\n".join(wrong)


def test_unknown_and_unclassified_drugs_never_read_as_safe(real_kb: Knowledge) -> None:
    zorblax = store.interaction("zorblax")
    assert (zorblax.known, zorblax.text) == (False, NO_INFO.format("zorblax"))
    ibuprofen = store.interaction("ibuprofen")
    assert real_kb.lexicon["drugs"]["ibuprofen"]["class"] is None
    assert (ibuprofen.known, ibuprofen.text) == (False, NO_INFO.format("ibuprofen"))
    own = {e.subtopic for e in real_kb.entries if e.topic == "interactions"}
    unclassified = [d for d, v in real_kb.lexicon["drugs"].items() if v["class"] is None]
    for drug_id in unclassified + ["zorblax", "is it safe"]:
        answer = store.interaction(drug_id)
        if drug_id in own:  # an entry about this drug itself ("no specific information about CBD")
            assert answer.known and all(e.subtopic == drug_id for e in answer.entries), answer
            assert not re.search(r"\b(?:is|are) safe\b", answer.text.lower()), answer
        else:
            assert not answer.known and "safe" not in answer.text.lower(), answer


def test_checker_finds_wrong_maximums() -> None:
    assert stated_daily_maximums("The most by mouth is 100 mg a day.") == [100]
    assert stated_daily_maximums("The most in one day is 60 mg.") == [60]
    assert stated_daily_maximums("Never take more than 80 mg. Up to 120 mg per day is allowed.") == [120]
    assert stated_daily_maximums("The most is 80 mg a day, given as 20 mg four times a day.") == [80]
    assert stated_daily_maximums("Most people need 40 mg to 80 mg a day.") == []
    assert stated_daily_maximums("Ozobax has 5 mg/5 mL; the most is 80 mg a day.") == [80]


def test_no_entry_states_another_oral_maximum(real_kb: Knowledge) -> None:
    wrong = [
        f"{e.path}:{e.line} {e.id}: {figures}"
        for e in real_kb.entries
        # off-label study doses are not a maximum; intrathecal doses are in mcg
        if not (e.topic == "uses" and e.subtopic == "off_label")
        for figures in [stated_daily_maximums(e.text)]
        if any(f != MAXIMUM_ORAL_MG_PER_DAY for f in figures)
    ]
    assert not wrong, "entries stating a maximum other than 80 mg a day:\n" + "\n".join(wrong)


def test_average_reading_grade(real_kb: Knowledge, kb_report: Callable[[str], None]) -> None:
    grades = sorted(((grade(e.text), e.id) for e in real_kb.entries), reverse=True)
    average = sum(g for g, _ in grades) / len(grades)
    hardest = ", ".join(f"{i} {g:.1f}" for g, i in grades[:5])
    figure = (
        f"reading grade (Flesch-Kincaid): average {average:.2f} over {len(grades)} entries "
        f"(limit {MAX_GRADE}); hardest: {hardest}"
    )
    kb_report(figure)
    print(figure)
    assert average <= MAX_GRADE, figure
