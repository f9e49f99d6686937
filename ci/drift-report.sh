#!/usr/bin/env bash
# The drift-report job (ci/retrain.gitlab-ci.yml): the model bundle from the DVC remote, then
# `make drift-report` on DRIFT_DATA; writes drift-report.md and fails when any PSI >= the threshold.
set -euo pipefail
DVC_TIMEOUT="${DVC_TIMEOUT:-600}"
# shellcheck source=ci/dvc-remote.sh
. "$(dirname "$0")/dvc-remote.sh"
timeout "$DVC_TIMEOUT" dvc pull --allow-missing model/model.skops model/model_card.json \
  || echo "drift-report: dvc pull incomplete; using the bundle in the checkout" >&2
status=0
make --no-print-directory drift-report DATA="${DRIFT_DATA:?drift-report: set DRIFT_DATA}" \
  THRESHOLD="${DRIFT_THRESHOLD:-0.2}" FORMAT=md OUT=drift-report.md || status=$?
cat drift-report.md 2>/dev/null || true
exit "$status"
