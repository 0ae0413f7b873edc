#!/usr/bin/env bash
# Print the path of a Python 3.8–3.10 interpreter (Rasa 3.6 supports no other),
# or explain in one line what to install.
set -uo pipefail
cd "$(dirname "$0")/.."

ok() { "$1" -c 'import sys; sys.exit(0 if (3, 8) <= sys.version_info[:2] <= (3, 10) else 1)' 2>/dev/null; }

candidates=()
# 1. pyenv honours the committed .python-version (3.10.13).
if command -v pyenv >/dev/null 2>&1; then
  p=$(pyenv which python 2>/dev/null) && candidates+=("$p")
  want=$(cat .python-version 2>/dev/null)
  [[ -n "$want" ]] && candidates+=("$(pyenv root)/versions/$want/bin/python")
fi
# 2. Whatever is on PATH.
candidates+=(python3.10 python3.9 python3.8 python3 python)
# 3. Common install places when PATH is minimal.
candidates+=("$HOME"/.pyenv/versions/3.10.*/bin/python /usr/local/bin/python3.10 /usr/bin/python3.10)

for c in "${candidates[@]}"; do
  p=$(command -v "$c" 2>/dev/null) || continue
  if ok "$p"; then echo "$p"; exit 0; fi
done
echo "No Python 3.8–3.10 found (Rasa 3.6 needs one): install Python 3.10, e.g. 'pyenv install 3.10.13' or 'apt-get install python3.10', then run again." >&2
exit 1
