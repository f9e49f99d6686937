#!/usr/bin/env bash
# Install the Debian packages a job needs (e.g. promtool for the monitoring tests) if missing.
# A no-op where they are already there (this repo's runner image, or a shell runner).
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
((${#missing[@]})) || exit 0
echo "apt: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
