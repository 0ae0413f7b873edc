# Shared settings for the scripts: sourced, not run.
# Every port and path can be overridden from the environment (see README, "Configuration").
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
# This checkout's own code first, whatever the environment's editable install points at.
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export BACLOFEN_RASA_PORT="${BACLOFEN_RASA_PORT:-5005}"
export BACLOFEN_ACTIONS_PORT="${BACLOFEN_ACTIONS_PORT:-5055}"
export BACLOFEN_WEB_PORT="${BACLOFEN_WEB_PORT:-8080}"
export BACLOFEN_KB_URL="${BACLOFEN_KB_URL:-sqlite:///$ROOT/build/knowledge.db}"
export BACLOFEN_SPACY_PATH="${BACLOFEN_SPACY_PATH:-$ROOT/build/spacy/baclofen_nlp}"
export BACLOFEN_TRIAGE_NET_PATH="${BACLOFEN_TRIAGE_NET_PATH:-$ROOT/build/triage_net}"
export BACLOFEN_ACTIONS_URL="${BACLOFEN_ACTIONS_URL:-http://127.0.0.1:$BACLOFEN_ACTIONS_PORT/webhook}"
export BACLOFEN_MODELS_DIR="${BACLOFEN_MODELS_DIR:-$ROOT/models}"
# Rasa and TensorFlow are chatty; keep the console readable.
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
export PYTHONHASHSEED="${PYTHONHASHSEED:-0}"
# The request body cap (BACLOFEN_MAX_REQUEST_BYTES), bind address, CORS allowlist and action
# server token are applied by the servers themselves (security/), not exported here.
# Rasa's cache of trained pipeline nodes: under build/, so `make clean` removes it.
export RASA_CACHE_DIRECTORY="${RASA_CACHE_DIRECTORY:-$ROOT/build/rasa-cache}"
# Telemetry off: no network at run time.
export RASA_TELEMETRY_ENABLED=false

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31mError: %s\033[0m\n' "$*" >&2; exit 1; }
