"""Where the built spaCy pipeline lives and how it is loaded at run time."""

from __future__ import annotations

import hashlib
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Optional, Union

import spacy
from spacy.language import Language
from spacy.tokens import Doc

import nlp.lexicon_matcher  # noqa: F401  (registers the baclofen_spelling factory)

logger = logging.getLogger(__name__)

PATH_ENV = "BACLOFEN_SPACY_PATH"
DEFAULT_PATH = Path("build") / "spacy" / "baclofen_nlp"
REPO_ROOT = Path(__file__).resolve().parent.parent


def pipeline_path(path: Optional[Union[str, Path]] = None) -> Path:
    """The given path, else $BACLOFEN_SPACY_PATH, else build/spacy/baclofen_nlp.

    A relative path is taken from the working directory, or from the repository
    root when it does not exist there (Rasa may run from bot/).
    """
    chosen = Path(path or os.environ.get(PATH_ENV) or DEFAULT_PATH)
    if not chosen.is_absolute() and not chosen.exists() and (REPO_ROOT / chosen).exists():
        return REPO_ROOT / chosen
    return chosen


def fingerprint(path: Optional[Union[str, Path]] = None) -> str:
    """sha256 over the saved pipeline's files: what the lexicon components compute from.

    Rasa caches trained nodes by config and inputs only (`.rasa/cache`); components whose
    output depends on the saved pipeline return this from `fingerprint_addon`, so a new
    lexicon term or aspect can never meet a classifier trained for the old width.
    """
    target = pipeline_path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else ():
        digest.update(str(file.relative_to(target)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def is_stale(nlp: Language) -> bool:
    """True when the lexicon the pipeline was built from has changed since."""
    built = nlp.meta.get("baclofen", {})
    source = Path(built.get("lexicon", ""))
    if not built.get("lexicon_sha256") or not source.is_file():
        return False
    return hashlib.sha256(source.read_bytes()).hexdigest() != built["lexicon_sha256"]


@lru_cache(maxsize=4)
def _load(resolved: str) -> Language:
    nlp = spacy.load(resolved)
    if is_stale(nlp):
        logger.warning("%s was built from an older %s: run `python -m nlp.build_pipeline`",
                       resolved, nlp.meta["baclofen"]["lexicon"])
    return nlp


def load_pipeline(path: Optional[Union[str, Path]] = None) -> Language:
    """Load (once per path) the saved pipeline; no network is needed."""
    target = pipeline_path(path).resolve()
    if not (target / "config.cfg").is_file():
        raise FileNotFoundError(
            f"no spaCy pipeline at {target}: run `python -m nlp.build_pipeline` first")
    return _load(str(target))


@lru_cache(maxsize=64)
def parse(nlp: Language, text: str) -> Doc:
    """One spaCy parse per message text, shared by every component that reads it.

    The entity extractor, lexicon featurizer, intent rules and red-flag detector all
    read the same message; parsing it once instead of four times is a measurable
    share of the server's time per message (make bench). Docs are only read, never
    changed, so sharing them is safe.
    """
    return nlp(text)
