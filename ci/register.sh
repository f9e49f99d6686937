#!/usr/bin/env bash
# The register job (default branch): register a new GTO model version (git tag model@vX.Y.Z)
# when the model bundle changed since the latest registered version, and push the tag.
#
# Writes register.env (a dotenv report for the build job): MODEL_VERSION, MODEL_CHANGED.
# Needs REPO_TOKEN (write_repository) to push the tag; GIT_PUSH_URL overrides the push target.
# MODEL_BUMP=major|minor|patch (default patch).
set -euo pipefail
ARTIFACT="${MODEL_ARTIFACT:-model}"
MODEL_PATH="${MODEL_PATH:-model/model.skops}"

# md5 of the model file as locked in a dvc.lock (stdin).
model_md5() { awk -v path="path: $MODEL_PATH" '$0 ~ path {found=1} found && /md5:/ {print $2; exit}'; }

git fetch --tags --force --quiet origin 2>/dev/null || echo "register: could not fetch tags" >&2
current="$(model_md5 < dvc.lock)"
[ -n "$current" ] || { echo "register: $MODEL_PATH not in dvc.lock" >&2; exit 1; }

latest="$(gto show "$ARTIFACT@latest" --ref 2>/dev/null || true)"
previous=""
if [ -n "$latest" ]; then
  previous="$(git show "$latest:dvc.lock" 2>/dev/null | model_md5 || true)"
fi

if [ -n "$latest" ] && [ "$previous" = "$current" ]; then
  changed=false
  echo "register: model unchanged since $latest ($current); nothing to register"
else
  changed=true
  git config user.name >/dev/null || git config user.name "${GITLAB_USER_NAME:-gitlab-ci}"
  git config user.email >/dev/null || git config user.email "${GITLAB_USER_EMAIL:-ci@localhost}"
  bump=()  # GTO refuses a bump for the first version (v0.0.1)
  [ -z "$latest" ] || bump=("--bump-${MODEL_BUMP:-patch}")
  gto register "$ARTIFACT" HEAD "${bump[@]}" \
    --message "Register $ARTIFACT from pipeline ${CI_PIPELINE_URL:-local} (md5 $current)"
  latest="$(gto show "$ARTIFACT@latest" --ref)"
  if [ -z "${GIT_PUSH_URL:-}" ]; then
    : "${REPO_TOKEN:?register: set the masked CI/CD variable REPO_TOKEN to push tags (README.md#fork-and-push)}"
    GIT_PUSH_URL="${CI_SERVER_PROTOCOL:-https}://oauth2:${REPO_TOKEN}@${CI_SERVER_HOST}${CI_SERVER_PORT:+:$CI_SERVER_PORT}/${CI_PROJECT_PATH}.git"
  fi
  # ci.skip: a model@ tag needs no pipeline of its own (the build job below uses this one).
  git push -o ci.skip "$GIT_PUSH_URL" "refs/tags/$latest"
  echo "register: pushed $latest"
fi

version="$(gto check-ref --json "$latest" | python -c 'import json,sys; print(json.load(sys.stdin)["version"])')"
printf 'MODEL_VERSION=%s\nMODEL_TAG=%s\nMODEL_CHANGED=%s\n' "$version" "$latest" "$changed" > register.env
cat register.env
