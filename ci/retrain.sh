#!/usr/bin/env bash
# The retrain job (ci/retrain.gitlab-ci.yml): the tags GTO needs, the DVC remote's credentials
# (ci/dvc-remote.sh), then `make retrain`, the same target a user runs locally.
set -euo pipefail
DVC_TIMEOUT="${DVC_TIMEOUT:-600}"
git fetch --tags --force --quiet origin || echo "retrain: no tags fetched; GTO sees what the clone has" >&2
# shellcheck source=ci/dvc-remote.sh
. "$(dirname "$0")/dvc-remote.sh"
timeout "$DVC_TIMEOUT" dvc pull --allow-missing || echo "retrain: dvc pull incomplete; dvc repro rebuilds" >&2
make retrain
