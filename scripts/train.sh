#!/usr/bin/env bash
# Train the Rasa model only when what it is built from changed: training data, domain,
# config, and the lexicon and components that feed NLU. A hash of those inputs is kept
# next to the model (Rasa 3.6 itself retrains DIET on every `rasa train`).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
model="$BACLOFEN_MODELS_DIR/baclofen.tar.gz"
stamp="$BACLOFEN_MODELS_DIR/baclofen.inputs.sha256"
inputs=$(find bot/config.yml bot/domain.yml data knowledge/lexicon.yml knowledge/topics.py nlp -type f \
           \( -name '*.yml' -o -name '*.py' \) | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
if [[ "${1:-}" != "--force" && -f "$model" && -f "$stamp" && "$(cat "$stamp")" == "$inputs" ]]; then
  echo "Nothing changed since the last training: using $model"
  exit 0
fi
log="build/train.log"
if ! "$VENV/bin/rasa" train --config bot/config.yml --domain bot/domain.yml --data data \
      --out "$BACLOFEN_MODELS_DIR" --fixed-model-name baclofen >"$log" 2>&1; then
  tail -n 25 "$log" >&2
  die "the Rasa model failed to train (full log: $log)."
fi
echo "$inputs" > "$stamp"
echo "Model trained: $model"
