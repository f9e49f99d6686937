#!/usr/bin/env bash
# The tune:data job (ci/tune.gitlab-ci.yml): the splits a hyperparameter search needs. dvc pull
# (tolerant; in a merge request only the read-only key: ci/dvc-remote.sh), then the preprocess
# stage, whose outputs (data/processed/) the parallel search jobs take as artifacts.
set -euo pipefail
DVC_TIMEOUT="${DVC_TIMEOUT:-600}"
# shellcheck source=ci/dvc-remote.sh
. "$(dirname "$0")/dvc-remote.sh"

if ! timeout "$DVC_TIMEOUT" dvc pull --allow-missing --with-deps preprocess; then
  echo "tune-data: dvc pull failed or timed out after ${DVC_TIMEOUT}s; preprocessing from scratch" >&2
fi
dvc repro preprocess
