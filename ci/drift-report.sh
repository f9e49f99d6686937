#!/usr/bin/env bash
# The drift-report job (ci/retrain.gitlab-ci.yml): the model bundle and its training split from
# the DVC remote, then `make drift-report` on DRIFT_DATA (a batch file) or DRIFT_CAPTURE (the
# API's capture: folder or s3://…, the last DRIFT_DAYS days); writes drift-report.md and fails
# when any PSI > the threshold or the classifier drift score (ROC AUC) > DRIFT_AUC_THRESHOLD.
set -euo pipefail
DVC_TIMEOUT="${DVC_TIMEOUT:-600}"
# shellcheck source=ci/dvc-remote.sh
. "$(dirname "$0")/dvc-remote.sh"
timeout "$DVC_TIMEOUT" dvc pull --allow-missing model/model.skops model/model_card.json \
  data/processed/train.parquet \
  || echo "drift-report: dvc pull incomplete; using the bundle in the checkout" >&2
if [ -z "${DRIFT_DATA:-}" ] && [ -z "${DRIFT_CAPTURE:-}" ]; then
  echo "drift-report: set DRIFT_DATA (a batch file) or DRIFT_CAPTURE (the API's capture URL)" >&2
  exit 2
fi
reference=""
if [ -f data/processed/train.parquet ]; then reference=data/processed/train.parquet; fi
status=0
make --no-print-directory drift-report DATA="${DRIFT_DATA:-}" CAPTURE="${DRIFT_CAPTURE:-}" DAYS="${DRIFT_DAYS:-7}" \
  REFERENCE="$reference" THRESHOLD="${DRIFT_THRESHOLD:-0.2}" AUC_THRESHOLD="${DRIFT_AUC_THRESHOLD:-0.7}" \
  FORMAT=md OUT=drift-report.md \
  || status=$?
cat drift-report.md 2>/dev/null || true
exit "$status"
