#!/usr/bin/env bash
# Create .venv with a suitable Python and install the pinned dependencies.
# Re-runs are cheap: nothing is reinstalled unless pyproject.toml or constraints.txt changed.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

if [[ -x "$PY" ]] && ! "$PY" -c 'import sys; sys.exit(0 if (3,8) <= sys.version_info[:2] <= (3,10) else 1)'; then
  die ".venv uses an unsupported Python ($("$PY" -V 2>&1)); delete .venv and run again."
fi
if [[ ! -x "$PY" ]]; then
  base=$(scripts/find_python.sh) || exit 1
  say "Creating .venv with $("$base" -V 2>&1) ($base)"
  "$base" -m venv "$VENV"
fi

stamp="$VENV/.installed"
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" || constraints.txt -nt "$stamp" ]]; then
  say "Installing dependencies (first time: about 3 minutes)"
  "$PY" -m pip install --quiet --upgrade "pip<25" wheel
  "$PY" -m pip install --quiet -c constraints.txt -e ".[test]"
  touch "$stamp"
fi
