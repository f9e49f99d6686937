#!/usr/bin/env bash
# The train job: dvc pull (tolerant), the pipeline (`make train` = dvc repro), dvc push on the
# default branch. Remote credentials: ci/dvc-remote.sh (docs/security.md).
set -euo pipefail
DVC_TIMEOUT="${DVC_TIMEOUT:-600}"
# shellcheck source=ci/dvc-remote.sh
. "$(dirname "$0")/dvc-remote.sh"

# A first run (empty remote) or a missing object is not an error: dvc repro rebuilds it.
if ! timeout "$DVC_TIMEOUT" dvc pull --allow-missing; then
  echo "train: dvc pull failed or timed out after ${DVC_TIMEOUT}s; training from scratch" >&2
fi

make train

if ! git diff --quiet -- dvc.lock; then
  echo "train: dvc.lock changed: the committed lock was not reproduced (commit the new one)" >&2
fi

if [ "${CI_COMMIT_BRANCH:-}" = "${CI_DEFAULT_BRANCH:-main}" ] && [ -z "${CI_MERGE_REQUEST_IID:-}" ]; then
  timeout "$DVC_TIMEOUT" dvc push
fi
