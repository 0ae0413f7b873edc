#!/usr/bin/env bash
# The whole test suite, from a fresh clone: `make test` (and .ci/run) runs exactly this.
# Order: set-up → build (data validation, train) → dialogue stories → NLU held-out gates →
# answer gate (consumer-phrasing test set) → triage gate (triage set) → pytest
# (unit, knowledge base on SQLite and PostgreSQL, safety sets, actions, channels, live
# conversations over REST and socket.io, browser). pytest runs last so its summary closes the run.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
start=$(date +%s)

mkdir -p build
scripts/setup.sh
scripts/system_deps.sh

# The build validates the training data (any warning fails it) before it trains.
scripts/build.sh

say "Conversation test stories (rasa test core)"
scripts/test_stories.sh

say "NLU on the held-out set"
"$PY" scripts/nlu_gate.py

say "Answers on the consumer-phrasing test set"
"$PY" scripts/answer_gate.py --set test

say "Triage on the independent triage set"
"$PY" scripts/triage_gate.py --floor

say "pytest"
set +e
"$PY" -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
echo "test suite took $(( $(date +%s) - start )) s"
# pytest exits 5 when it collected no test: that must fail too.
exit $rc
