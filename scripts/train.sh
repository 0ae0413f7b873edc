#!/usr/bin/env bash
# Train the Rasa model only when what it is built from changed: training data, the entries'
# questions (build/nlu, written by answers/training_data.py), knowledge content (the entry
# ranker), domain, config, and the lexicon and components that feed NLU. A hash of those
# inputs is kept next to the model (Rasa 3.6 itself would retrain on every `rasa train`).
# Rasa's node cache lives in build/rasa-cache, so `make clean` removes it too; components
# fed by files outside the training data add those files to Rasa's fingerprints.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
model="$BACLOFEN_MODELS_DIR/baclofen.tar.gz"
stamp="$BACLOFEN_MODELS_DIR/baclofen.inputs.sha256"
"$PY" -m answers.training_data --out build/nlu/entry_questions.yml
inputs=$( { find bot/config.yml bot/domain.yml data build/nlu knowledge nlp answers -type f \
              \( -name '*.yml' -o -name '*.py' \); find "$BACLOFEN_SPACY_PATH" -type f; } \
          | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
if [[ "${1:-}" != "--force" && -f "$model" && -f "$stamp" && "$(cat "$stamp")" == "$inputs" ]]; then
  echo "Nothing changed since the last training: using $model"
  exit 0
fi
log="build/validate.log"
# Any warning about the training data fails the build: Rasa skips a broken example
# (for instance a comment line inside `examples: |`) with only a warning.
if ! "$VENV/bin/rasa" data validate --fail-on-warnings --config bot/config.yml --domain bot/domain.yml \
      --data data build/nlu > "$log" 2>&1; then
  grep -v "^\s*$" "$log" | tail -n 30 >&2
  die "the training data has problems (full log: $log)."
fi
log="build/train.log"
if ! "$VENV/bin/rasa" train --config bot/config.yml --domain bot/domain.yml --data data build/nlu \
      --out "$BACLOFEN_MODELS_DIR" --fixed-model-name baclofen >"$log" 2>&1; then
  tail -n 25 "$log" >&2
  die "the Rasa model failed to train (full log: $log)."
fi
# Rasa reports skipped examples and similar data problems as UserWarnings, and trains anyway.
if grep -n "UserWarning" "$log" >&2; then
  rm -f "$model" "$stamp"
  die "training printed warnings (above; full log: $log): fix them, a warning means lost training data."
fi
echo "$inputs" > "$stamp"
echo "Model trained: $model"
