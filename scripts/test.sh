#!/usr/bin/env bash
# The whole test suite, from a fresh clone: `make test` (and .ci/run) runs exactly this.
# Order: set-up → data validation → build + train → dialogue stories → NLU held-out gates → pytest
# (unit, knowledge base on SQLite and PostgreSQL, safety sets, actions, channels, live
# conversations over REST and socket.io, browser). pytest runs last so its summary closes the run.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
start=$(date +%s)

mkdir -p build
scripts/setup.sh
scripts/system_deps.sh

say "Validating Rasa training data"
"$VENV/bin/rasa" data validate --fail-on-warnings --config bot/config.yml --domain bot/domain.yml \
  --data data > build/validate.log 2>&1 || { tail -n 30 build/validate.log; die "rasa data validate failed"; }
echo "training data is valid"

scripts/build.sh

say "Conversation test stories (rasa test core)"
scripts/test_stories.sh

say "NLU on the held-out set"
"$PY" scripts/nlu_gate.py

say "pytest"
set +e
"$PY" -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
echo "test suite took $(( $(date +%s) - start )) s"
# pytest exits 5 when it collected no test: that must fail too.
exit $rc
