# shellcheck shell=bash
# Sourced by the jobs that talk to the DVC remote (ci/train.sh, ci/retrain.sh, ci/drift-report.sh,
# ci/dvc-smoke.sh): point DVC at DVC_REMOTE and hand dvc-gdrive the service-account key as a
# file readable by this user only (0600, outside the project folder, so never in an artifact or
# a cache), removed when the sourcing script exits. docs/security.md explains the keys.
#
#   GDRIVE_CREDENTIALS_DATA           read-write key: a protected variable, so only pipelines on
#                                     protected refs (default branch, retrain) have it
#   GDRIVE_CREDENTIALS_DATA_READONLY  read-only key (a Viewer on the Shared Drive): merge requests
#
# Either holds the key JSON or its base64 (GitLab masks only single-line values). The decoded
# JSON never goes into the environment: child processes (make, dvc, python) don't inherit it,
# and both variables are unset here, as dvc-gdrive would prefer the variable to the file.
# The sourcing script must not set an EXIT trap of its own (this one would replace it).

dvc_remote_fail() {
  echo "dvc-remote: $*" >&2
  exit 1
}

dvc_remote_setup() {
  local key remote
  if [ -n "${DVC_REMOTE:-}" ]; then
    dvc remote default --local "$DVC_REMOTE"
  fi
  key="${GDRIVE_CREDENTIALS_DATA:-${GDRIVE_CREDENTIALS_DATA_READONLY:-}}"
  unset GDRIVE_CREDENTIALS_DATA GDRIVE_CREDENTIALS_DATA_READONLY
  [ -n "$key" ] || return 0

  DVC_REMOTE_KEY_FILE="$(umask 077 && mktemp "${TMPDIR:-/tmp}/dvc-remote-key.XXXXXX")"
  trap 'rm -f "$DVC_REMOTE_KEY_FILE"' EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM  # a cancelled job: the EXIT trap still removes the key
  case "$key" in
    "{"*) printf '%s' "$key" > "$DVC_REMOTE_KEY_FILE" ;;
    *) printf '%s' "$key" | base64 -d > "$DVC_REMOTE_KEY_FILE" 2>/dev/null \
      || dvc_remote_fail "the Google Drive key is neither JSON nor base64 of JSON" ;;
  esac
  python -c 'import json, sys; json.load(open(sys.argv[1]))' "$DVC_REMOTE_KEY_FILE" 2>/dev/null \
    || dvc_remote_fail "the Google Drive key is not valid JSON once decoded (docs/security.md)"
  remote="${DVC_REMOTE:-$(dvc remote default)}"
  [ -n "$remote" ] || dvc_remote_fail "a Google Drive key is set but DVC has no default remote (set DVC_REMOTE)"
  dvc remote modify --local "$remote" gdrive_use_service_account true
  dvc remote modify --local "$remote" gdrive_service_account_json_file_path "$DVC_REMOTE_KEY_FILE"
  echo "dvc-remote: remote '$remote' uses the service-account key in a 0600 file (removed at exit)"
}

dvc_remote_setup
