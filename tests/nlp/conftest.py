"""A pipeline built once per test session from the small fixture lexicon."""

from pathlib import Path

import pytest
from spacy.language import Language

from nlp.build_pipeline import build
from nlp.pipeline import load_pipeline

FIXTURE_LEXICON = Path(__file__).parent / "fixtures" / "lexicon.yml"


@pytest.fixture(scope="session")
def fixture_pipeline_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spacy") / "baclofen_nlp"
    build(FIXTURE_LEXICON).to_disk(out)
    return out


@pytest.fixture(scope="session")
def fixture_nlp(fixture_pipeline_path: Path) -> Language:
    return load_pipeline(fixture_pipeline_path)
