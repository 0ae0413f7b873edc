#!/usr/bin/env bash
# NLU figures: per-intent precision/recall/F1 and top confusions on the held-out set
# (tests/nlu/heldout.yml, never used for training), then 5-fold cross-validation on the
# training data with the same fixed-seed config. Prints figures; the gates live in make test.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

say "Held-out set"
"$PY" scripts/nlu_gate.py --no-gate

say "5-fold cross-validation on data/nlu (trains 5 models: several minutes)"
out=results/nlu-cv
"$VENV/bin/rasa" test nlu --nlu data/nlu --config bot/config.yml --cross-validation --folds 5 \
  --out "$out" --no-plot > build/nlu-cv.log 2>&1 || { tail -n 30 build/nlu-cv.log; die "cross-validation failed"; }
"$PY" - "$out" <<'PY'
import json, sys
r = json.load(open(f"{sys.argv[1]}/intent_report.json"))
print(f"5-fold CV (test folds): macro-F1 {r['macro avg']['f1-score']:.3f}, "
      f"accuracy {r.get('accuracy', 0):.3f}, out_of_scope F1 {r.get('out_of_scope', {}).get('f1-score', 0):.3f}")
PY
