#!/usr/bin/env bash
# List the project's shell scripts (what `make lint` hands to shellcheck): the files git tracks
# (or would track: new, not ignored) named *.sh or whose first line is a sh/bash shebang.
# Outside a git checkout: every *.sh file.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  find . -name '*.sh' -not -path './.venv/*' -not -path './.git/*' | sed 's|^\./||' | sort
  exit 0
fi
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
  [ -f "$file" ] || continue
  case "$file" in
    *.sh) echo "$file" ;;
    *) if head -n 1 "$file" | grep -qE '^#!.*[/ ](ba)?sh( |$)'; then echo "$file"; fi ;;
  esac
done
