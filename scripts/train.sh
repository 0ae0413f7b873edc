#!/usr/bin/env bash
# Train the Rasa model; Rasa compares fingerprints and reuses the last model when
# training data, domain and config are unchanged.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
log="build/train.log"
if ! "$VENV/bin/rasa" train --config bot/config.yml --domain bot/domain.yml --data data \
      --out "$BACLOFEN_MODELS_DIR" --fixed-model-name baclofen "$@" >"$log" 2>&1; then
  tail -n 25 "$log" >&2
  die "the Rasa model failed to train (full log: $log)."
fi
grep -E "Nothing changed|Your Rasa model is trained|saved" "$log" | tail -n 2 || true
