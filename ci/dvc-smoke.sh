#!/usr/bin/env bash
# The dvc-remote-smoke job (default branch, when GDRIVE_CREDENTIALS_DATA is set): push one tiny
# object to the Google Drive remote with the pipeline's write key, so a key without access to
# the Shared Drive (or a folder in someone's My Drive: "Service Accounts do not have storage
# quota") fails here, in seconds, with DVC's own message, instead of at the end of training.
set -euo pipefail
DVC_TIMEOUT="${DVC_TIMEOUT:-600}"
remote="${DVC_REMOTE:-gdrive}"
DVC_REMOTE="$remote"
# shellcheck source=ci/dvc-remote.sh
. "$(dirname "$0")/dvc-remote.sh"
mkdir -p .dvc-smoke
printf 'dvc remote smoke test, commit %s\n' "${CI_COMMIT_SHA:-local}" > .dvc-smoke/probe.txt
dvc add --quiet .dvc-smoke/probe.txt
timeout "$DVC_TIMEOUT" dvc push -r "$remote" .dvc-smoke/probe.txt.dvc
echo "dvc-smoke: pushed a probe to remote '$remote' (dvc gc -c -r $remote removes old probes)"
