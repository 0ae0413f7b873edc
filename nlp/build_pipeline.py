"""Build the spaCy pipeline used by the NLU components and the red-flag detector.

    python -m nlp.build_pipeline [--out build/spacy/baclofen_nlp] [--lexicon knowledge/lexicon.yml]

The pipeline is a blank English one (nothing to download):
  sentencizer → baclofen_spelling (typo → NORM) → entity_ruler (lexicon, on NORM)
Matching is on lower-case NORM with explicit word forms rather than lemmas:
the vocabulary is small, and this avoids shipping spaCy's ~100 MB lookup tables.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from pathlib import Path
from typing import Optional

import spacy
from spacy.language import Language

from nlp import lexicon_matcher as lm
from nlp.pipeline import DEFAULT_PATH
from safety.red_flags import SPELLING_WORDS

logger = logging.getLogger(__name__)


def build(lexicon_path: Optional[Path] = None) -> Language:
    """A fresh pipeline for the given lexicon (default knowledge/lexicon.yml)."""
    lexicon_path = Path(lexicon_path) if lexicon_path else lm.DEFAULT_LEXICON
    lexicon = lm.load_lexicon(lexicon_path)

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    spelling = nlp.add_pipe("baclofen_spelling")
    targets = lm.spelling_targets(lexicon) | set(SPELLING_WORDS)
    spelling.set_words(targets, lm.protected_words(targets, lm.english_words()))

    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "NORM", "validate": True})
    ruler.add_patterns(lm.ruler_patterns(lexicon))

    nlp.meta["name"] = "baclofen_nlp"
    nlp.meta["description"] = "Blank English pipeline: lexicon entity ruler and spelling fixes"
    nlp.meta["baclofen"] = {
        "lexicon": str(lexicon_path.resolve()),
        "lexicon_sha256": hashlib.sha256(lexicon_path.read_bytes()).hexdigest(),
    }
    return nlp


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--lexicon", type=Path, default=lm.DEFAULT_LEXICON)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if not args.lexicon.is_file():
        logger.error("lexicon not found: %s", args.lexicon)
        return 1
    nlp = build(args.lexicon)
    args.out.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(args.out)
    ruler = nlp.get_pipe("entity_ruler")
    logger.info("wrote %s (%d ruler patterns, %d spelling targets)",
                args.out, len(ruler), len(nlp.get_pipe("baclofen_spelling").index.targets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
