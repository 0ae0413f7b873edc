"""The saved spaCy pipeline: lexicon entities, spelling tolerance, loading from disk."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from spacy.language import Language

from nlp import build_pipeline
from nlp.pipeline import is_stale, load_pipeline

from .conftest import FIXTURE_LEXICON

REPO = Path(__file__).resolve().parents[2]


def ents(nlp: Language, text: str) -> list:
    return [(e.text, e.label_, e.ent_id_) for e in nlp(text).ents]


def ids(nlp: Language, text: str) -> set:
    return {(e.label_, e.ent_id_) for e in nlp(text).ents}


def test_pipeline_components_and_meta(fixture_nlp: Language) -> None:
    assert fixture_nlp.pipe_names == ["sentencizer", "baclofen_spelling", "entity_ruler"]
    assert len(fixture_nlp.meta["baclofen"]["lexicon_sha256"]) == 64


def test_drug_and_class_ids(fixture_nlp: Language) -> None:
    assert ents(fixture_nlp, "Can I take it with OxyContin or other opioids?") == [
        ("OxyContin", "DRUG", "oxycodone"), ("opioids", "DRUG", "opioids")]


def test_baclofen_names_have_their_own_label(fixture_nlp: Language) -> None:
    assert ids(fixture_nlp, "is Lioresal the same as baclofen") == {("BACLOFEN", "baclofen")}


def test_forms_populations_aspects_and_multiword_terms(fixture_nlp: Language) -> None:
    found = ids(fixture_nlp, "serious side effects of the oral solution when breast-feeding")
    assert found == {("ASPECT", "serious"), ("FORM", "liquid"), ("POPULATION", "breastfeeding")}
    assert ids(fixture_nlp, "breast feeding") == {("POPULATION", "breastfeeding")}
    assert ids(fixture_nlp, "st johns wort and St John's wort") == {("DRUG", "st_johns_wort")}


def test_plural_of_a_term_matches(fixture_nlp: Language) -> None:
    assert ids(fixture_nlp, "two toddlers") == {("POPULATION", "children")}


@pytest.mark.parametrize("text", [
    "my 6-year-old", "a 6 year old", "my 6 yr old", "my 6yo", "a 6 y/o", "an 18 month old",
    "a 3-month-old", "aged 12", "my eleven year old",
])
def test_written_ages_of_children(fixture_nlp: Language, text: str) -> None:
    assert ids(fixture_nlp, text) == {("POPULATION", "children")}


@pytest.mark.parametrize("text", ["a 70-year-old", "my 82 yr old dad", "aged 90"])
def test_written_ages_of_older_adults(fixture_nlp: Language, text: str) -> None:
    assert ids(fixture_nlp, text) == {("POPULATION", "older_adults")}


@pytest.mark.parametrize("text", ["a 30 year old", "take 5 mg", "under 12 mg", "18 years"])
def test_other_numbers_are_not_populations(fixture_nlp: Language, text: str) -> None:
    assert ids(fixture_nlp, text) == set()


@pytest.mark.parametrize("typed, label, entry", [
    ("oxycodonne", "DRUG", "oxycodone"),       # one letter doubled
    ("tizanadine", "DRUG", "tizanidine"),      # one vowel wrong (long word)
    ("amitriptylin", "DRUG", "amitriptyline"),  # one letter missing
    ("diazpam", "DRUG", "diazepam"),
    ("percoset", "DRUG", "oxycodone"),
    ("Baclofne", "BACLOFEN", "baclofen"),       # two letters swapped
])
def test_misspellings_are_matched(fixture_nlp: Language, typed: str, label: str, entry: str) -> None:
    assert ids(fixture_nlp, f"can I take {typed} today") == {(label, entry)}


@pytest.mark.parametrize("text", [
    "is it fine in bed",          # short everyday words are never corrected
    "I feel fine, thanks",
    "what is the dose",
    "serial numbers and valiant efforts",  # dictionary words near terms stay themselves
    "wines and spirits",
])
def test_common_words_are_not_corrected_into_terms(fixture_nlp: Language, text: str) -> None:
    doc = fixture_nlp(text)
    assert all(t.norm_ == t.lower_ for t in doc), [(t.text, t.norm_) for t in doc]


def test_built_pipeline_loads_in_a_fresh_process(fixture_pipeline_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from nlp.pipeline import is_stale, load_pipeline\n"
        "nlp = load_pipeline(sys.argv[1])\n"
        "doc = nlp('can I take baclofin with oxycodon and valium')\n"
        "print(json.dumps([[e.label_, e.ent_id_] for e in doc.ents]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code, str(fixture_pipeline_path)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [
        ["BACLOFEN", "baclofen"], ["DRUG", "oxycodone"], ["DRUG", "diazepam"]]


def test_cli_writes_a_loadable_pipeline(tmp_path: Path) -> None:
    out = tmp_path / "nlp_out"
    assert build_pipeline.main(["--out", str(out), "--lexicon", str(FIXTURE_LEXICON)]) == 0
    assert ids(load_pipeline(out), "zanaflex") == {("DRUG", "tizanidine")}


def test_cli_fails_clearly_without_a_lexicon(tmp_path: Path) -> None:
    assert build_pipeline.main(["--out", str(tmp_path / "x"), "--lexicon", str(tmp_path / "no.yml")]) == 1


def test_missing_pipeline_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nlp.build_pipeline"):
        load_pipeline(tmp_path / "nothing")


def test_stale_pipeline_is_detected(tmp_path: Path) -> None:
    lexicon = tmp_path / "lexicon.yml"
    lexicon.write_text(FIXTURE_LEXICON.read_text(encoding="utf-8"), encoding="utf-8")
    nlp = build_pipeline.build(lexicon)
    assert not is_stale(nlp)
    lexicon.write_text(lexicon.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert is_stale(nlp)


def test_real_lexicon_builds() -> None:
    nlp = build_pipeline.build()
    assert ids(nlp, "lioresal with oxycodone") == {("BACLOFEN", "baclofen"), ("DRUG", "oxycodone")}
