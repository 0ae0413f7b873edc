#!/usr/bin/env bash
# Build what the product needs from the sources in the repo:
# knowledge base (idempotent, versioned), spaCy pipeline, and the Rasa model
# (Rasa itself skips training when data, domain and config are unchanged).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
mkdir -p build "$BACLOFEN_MODELS_DIR"

say "Knowledge base"
"$PY" -m knowledge.build || die "the knowledge base did not build (see the file:line messages above)."

say "Triage rules"
"$PY" -m safety.rules_check || die "the triage rules in safety/rules/ are not valid (see the file:line messages above; docs/triage-rules.md)."

say "spaCy pipeline"
"$PY" -m nlp.build_pipeline --out "$BACLOFEN_SPACY_PATH" || die "the spaCy pipeline did not build."

say "Rasa model"
scripts/train.sh
