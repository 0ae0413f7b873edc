#!/usr/bin/env bash
# Rasa's story tests: fail on any prediction error AND when no story was evaluated
# (`rasa test` exits 0 in both cases otherwise).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
out="results/stories"
rm -rf "$out"
"$VENV/bin/rasa" test core --e2e --stories tests/stories --model "$BACLOFEN_MODELS_DIR/baclofen.tar.gz" \
  --endpoints bot/endpoints.yml --out "$out" --fail-on-prediction-errors --no-plot > build/stories.log 2>&1 \
  || { grep -v "^\s*$" build/stories.log | tail -n 40; cat "$out/failed_test_stories.yml" 2>/dev/null | head -60; die "conversation test stories failed"; }
"$PY" - "$out" <<'PY'
import json, sys
report = json.load(open(f"{sys.argv[1]}/story_report.json"))
n = report.get("conversation_accuracy", {}).get("total", 0)
if n == 0:
    sys.exit("no conversation test story was evaluated")
print(f"{n} conversation test stories passed")
PY
