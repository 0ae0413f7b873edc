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

say "Triage safety net"
# Trained from reviewed examples (safety/triage_net.py); after the model step, which writes
# the entries' questions to build/nlu. Skipped when nothing it learns from changed.
net_stamp="$BACLOFEN_TRIAGE_NET_PATH/inputs.sha256"
net_inputs=$( { find safety data/nlu build/nlu -type f \( -name '*.yml' -o -name '*.py' \); } \
              | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
if [[ -f "$net_stamp" && -f "$BACLOFEN_TRIAGE_NET_PATH/net.npz" && "$(cat "$net_stamp")" == "$net_inputs" ]]; then
  echo "Nothing changed since the last training: using $BACLOFEN_TRIAGE_NET_PATH"
else
  "$PY" -m safety.triage_net --out "$BACLOFEN_TRIAGE_NET_PATH" 2> build/triage_net.log \
    || { tail -n 20 build/triage_net.log >&2; die "the triage safety net did not train (full log: build/triage_net.log)."; }
  echo "$net_inputs" > "$net_stamp"
fi
