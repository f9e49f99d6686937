#!/usr/bin/env bash
# Time the merge-request pipeline under gitlab-ci-local on this machine, cold then warm.
#
#   ci/measure-pipeline.sh [PYTEST_MARKERS [PYTEST_ARGS]]
#       defaults: "not slow" (the fast tests) and "" (all test folders)
#
# A temporary clone of HEAD (origin with main, branch feature that changes train.learning_rate)
# runs lint → test → train → gate → report with real installs: no CI_REUSE_VENV, so the first
# job creates .venv from PyPI (cold: empty pip cache) and the GitLab cache (kept by
# gitlab-ci-local under .gitlab-ci-local/cache) carries .venv, the pip cache and the DVC
# cache to the later jobs. The warm run changes one more param and runs again: it retrains
# without installing anything.
set -euo pipefail
root="$(git rev-parse --show-toplevel)"
markers="${1:-not slow}"
pytest_args="${2:-}"
base="$(mktemp -d)"
trap 'rm -rf "$base"' EXIT
git -C "$root" clone -q --bare "$root" "$base/origin.git"
git -C "$base/origin.git" symbolic-ref HEAD refs/heads/main 2>/dev/null || true
git clone -q -b main "$base/origin.git" "$base/work" 2>/dev/null \
  || git clone -q "$base/origin.git" "$base/work"
cd "$base/work"
git checkout -q -b feature
export GIT_AUTHOR_NAME=measure GIT_AUTHOR_EMAIL=m@localhost GIT_COMMITTER_NAME=measure GIT_COMMITTER_EMAIL=m@localhost

bump() {  # set train.learning_rate and commit, like a one-line MR change
  sed -i "s/^\(  learning_rate:\) [0-9.e-]*/\1 $1/" params.yaml
  git commit -qam "feature: learning_rate $1"
}

run() {
  local start end
  start=$(date +%s)
  gitlab-ci-local --force-shell-executor --shell-isolation --no-artifacts-to-source --timestamps \
    --ignore-predefined-vars CI_PIPELINE_SOURCE \
    --variable CI_PIPELINE_SOURCE=merge_request_event --unset-variable CI_COMMIT_BRANCH \
    --variable CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main --variable CI_MERGE_REQUEST_IID=1 \
    --variable "PYTEST_MARKERS=$markers" --variable "PYTEST_ARGS=$pytest_args" > "$base/$1.log" 2>&1 || { tail -50 "$base/$1.log"; exit 1; }
  end=$(date +%s)
  echo "$1: $((end - start)) s"
  grep -E "^ PASS |finished in|imported cache|cache created" "$base/$1.log" | sed 's/^/  /'
}

bump 0.02
run cold
bump 0.03
run warm
