#!/usr/bin/env bash
# The register job (default branch): register a new GTO model version (git tag model@vX.Y.Z)
# when the model bundle changed since the latest registered version, and push the tag.
#
# Writes register.env (a dotenv report for the build job): MODEL_VERSION, MODEL_TAG, MODEL_CHANGED.
# REGISTER_TOKEN (protected; a token allowed to create the protected model@* tags,
# docs/security.md) pushes the tag over https to this GitLab, as an HTTP header handed to git
# through its environment: never in a URL or an argument. In CI the push URL must be https on
# a host listed in ci/allowed-hosts. GIT_PUSH_URL overrides the target (a local path outside CI).
# MODEL_BUMP=major|minor|patch (default patch).
set -euo pipefail
ARTIFACT="${MODEL_ARTIFACT:-model}"
MODEL_PATH="${MODEL_PATH:-model/model.skops}"
# Kept in a shell variable: gto, python and git don't inherit the token.
token="${REGISTER_TOKEN:-}"
unset REGISTER_TOKEN

# md5 of the model file as locked in a dvc.lock (stdin).
model_md5() { awk -v path="path: $MODEL_PATH" '$0 ~ path {found=1} found && /md5:/ {print $2; exit}'; }

# git push with the token in an http.extraHeader from the environment, never an argument (the
# same changes as mlops_template.ct.hosts.git_auth_env): no redirects, and no traces or
# inherited `git -c` entries in this subshell (GIT_TRACE_CURL would print the header).
push_with_token() (
  unset GIT_TRACE GIT_TRACE_CURL GIT_TRACE_CURL_NO_DATA GIT_TRACE_PACKET GIT_TRACE_PACKFILE \
    GIT_TRACE_PERFORMANCE GIT_TRACE_SETUP GIT_TRACE_SHALLOW GIT_TRACE2 GIT_TRACE2_EVENT \
    GIT_TRACE2_PERF GIT_CURL_VERBOSE GIT_SSL_NO_VERIFY GIT_CONFIG_PARAMETERS
  basic="$(printf 'oauth2:%s' "$token" | base64 -w0)"
  export GIT_TRACE_REDACT=1 GIT_CONFIG_COUNT=2 \
    GIT_CONFIG_KEY_0=http.extraHeader GIT_CONFIG_VALUE_0="Authorization: Basic $basic" \
    GIT_CONFIG_KEY_1=http.followRedirects GIT_CONFIG_VALUE_1=false
  exec git push "$@"
)

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
  push_url="${GIT_PUSH_URL:-${CI_SERVER_PROTOCOL:-https}://${CI_SERVER_HOST:?register: CI_SERVER_HOST or GIT_PUSH_URL}${CI_SERVER_PORT:+:$CI_SERVER_PORT}/${CI_PROJECT_PATH:?register: CI_PROJECT_PATH or GIT_PUSH_URL}.git}"
  python -m mlops_template.ct.hosts "GIT_PUSH_URL=$push_url"  # CI: https + ci/allowed-hosts
  case "$push_url" in
    http://* | https://*)
      [ -n "$token" ] || { echo "register: set the protected, masked CI/CD variable REGISTER_TOKEN to push tags (docs/security.md)" >&2; exit 1; } ;;
  esac
  git config user.name >/dev/null || git config user.name "${GITLAB_USER_NAME:-gitlab-ci}"
  git config user.email >/dev/null || git config user.email "${GITLAB_USER_EMAIL:-ci@localhost}"
  bump=()  # GTO refuses a bump for the first version (v0.0.1)
  [ -z "$latest" ] || bump=("--bump-${MODEL_BUMP:-patch}")
  gto register "$ARTIFACT" HEAD "${bump[@]}" \
    --message "Register $ARTIFACT from pipeline ${CI_PIPELINE_URL:-local} (md5 $current)"
  latest="$(gto show "$ARTIFACT@latest" --ref)"
  # ci.skip: a model@ tag needs no pipeline of its own (the build job below uses this one).
  if [ -n "$token" ]; then
    push_with_token -o ci.skip "$push_url" "refs/tags/$latest"
  else
    git push -o ci.skip "$push_url" "refs/tags/$latest"
  fi
  echo "register: pushed $latest"
fi

version="$(gto check-ref --json "$latest" | python -c 'import json,sys; print(json.load(sys.stdin)["version"])')"
printf 'MODEL_VERSION=%s\nMODEL_TAG=%s\nMODEL_CHANGED=%s\n' "$version" "$latest" "$changed" > register.env
cat register.env
