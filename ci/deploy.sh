#!/usr/bin/env bash
# The deploy job, for a GTO stage tag (model#prod#N): resolve which model version the tag
# assigns, and roll out $CI_REGISTRY_IMAGE:<version>. Replace the "roll out" part with your own
# platform; the rest (resolve the tag, pick the image) stays.
#
# Built-in targets, first match wins:
#   DEPLOY_WEBHOOK_URL  POST {"image", "version", "stage", "tag", "commit"} as JSON (e.g. a
#                       Portainer/ArgoCD/Watchtower hook or your own endpoint); DEPLOY_WEBHOOK_TOKEN
#                       goes into an Authorization: Bearer header.
#   KUBE_DEPLOYMENT     kubectl set image deployment/$KUBE_DEPLOYMENT (container $KUBE_CONTAINER,
#                       default "api") and wait for the rollout; needs a kubeconfig (KUBECONFIG file
#                       variable or the GitLab agent).
# DEPLOY_DRY_RUN=true prints what it would do.
set -euo pipefail
TAG="${1:-${CI_COMMIT_TAG:?deploy: runs for a GTO stage tag such as model#prod#1}}"
IMAGE_REPO="${IMAGE:-${CI_REGISTRY_IMAGE:-}}"

info="$(gto check-ref --json "$TAG")"
field() { python -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1]) or "")' "$1" <<<"$info"; }
version="$(field version)"
stage="$(field stage)"
[ -n "$stage" ] || { echo "deploy: $TAG is not a stage assignment (want model#<stage>#N)" >&2; exit 1; }
image="$IMAGE_REPO:$version"
echo "deploy: $TAG assigns $version to stage $stage -> $image"

if [ "${DEPLOY_DRY_RUN:-false}" = "true" ]; then
  echo "deploy: dry run, nothing rolled out"
elif [ -n "${DEPLOY_WEBHOOK_URL:-}" ]; then
  body="$(python -c 'import json,sys; print(json.dumps(dict(zip(["image","version","stage","tag","commit"], sys.argv[1:]))))' \
    "$image" "$version" "$stage" "$TAG" "$(field commit_hexsha)")"
  headers=(-H "Content-Type: application/json")
  [ -z "${DEPLOY_WEBHOOK_TOKEN:-}" ] || headers+=(-H "Authorization: Bearer $DEPLOY_WEBHOOK_TOKEN")
  curl --fail --show-error --silent --max-time 60 -X POST "${headers[@]}" \
    --data "$body" "$DEPLOY_WEBHOOK_URL"
  echo "deploy: webhook accepted $image"
elif [ -n "${KUBE_DEPLOYMENT:-}" ]; then
  kubectl set image "deployment/$KUBE_DEPLOYMENT" "${KUBE_CONTAINER:-api}=$image"
  kubectl rollout status "deployment/$KUBE_DEPLOYMENT" --timeout="${DEPLOY_TIMEOUT:-300}s"
else
  echo "deploy: no target configured: set DEPLOY_WEBHOOK_URL or KUBE_DEPLOYMENT (README.md#fork-and-push)" >&2
  exit 1
fi
printf 'DEPLOYED_IMAGE=%s\nDEPLOYED_VERSION=%s\n' "$image" "$version" > deploy.env
