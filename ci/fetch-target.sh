#!/usr/bin/env bash
# Make origin/<MR target branch> available in a shallow CI clone (for the gate and the report).
# Prints the ref to compare with, or nothing outside merge-request pipelines.
set -euo pipefail
target="${CI_MERGE_REQUEST_TARGET_BRANCH_NAME:-}"
[ -n "$target" ] || exit 0
git fetch --quiet --depth="${TARGET_FETCH_DEPTH:-50}" origin \
  "+refs/heads/$target:refs/remotes/origin/$target" >&2
echo "origin/$target"
