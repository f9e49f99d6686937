#!/usr/bin/env bash
# The train job: dvc pull (tolerant), the pipeline (`make train` = dvc repro), dvc push on the
# default branch. Remote credentials come only from masked CI/CD variables (README.md#fork-and-push).
set -euo pipefail
DVC_TIMEOUT="${DVC_TIMEOUT:-600}"

if [ -n "${DVC_REMOTE:-}" ]; then
  dvc remote default --local "$DVC_REMOTE"
fi
if [ -n "${GDRIVE_CREDENTIALS_DATA:-}" ]; then
  # GitLab can only mask single-line base64-ish values: the key JSON is stored base64-encoded
  # (README.md#fork-and-push). dvc-gdrive reads the decoded JSON from this variable; nothing touches disk.
  case "$GDRIVE_CREDENTIALS_DATA" in
    "{"*) ;;
    *) GDRIVE_CREDENTIALS_DATA="$(printf '%s' "$GDRIVE_CREDENTIALS_DATA" | base64 -d)" ;;
  esac
  export GDRIVE_CREDENTIALS_DATA
  remote="${DVC_REMOTE:-$(dvc remote default)}"
  dvc remote modify --local "$remote" gdrive_use_service_account true
fi

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
