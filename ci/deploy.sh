#!/usr/bin/env bash
# The deploy job, for a GTO stage tag (model#prod#N, model#staging#N): deploy the exact image
# the build job pushed for that model version, by digest, so a rollback (an older version's
# stage tag) restores the exact code and model.
#
#   stage tag -> model version (gto) -> commit of the version's tag model@vX.Y.Z
#     -> $CI_REGISTRY_IMAGE:<that commit sha> (the build job's immutable tag)
#     -> its digest from the registry (skopeo, or crane) -> <repo>@sha256:...
#
# Then, first match wins:
#   DEPLOY_DRY_RUN=true  print what would be deployed, touch nothing.
#   DEPLOY_WEBHOOK_URL   POST {"image", "digest", "version", "stage", "environment", "tag",
#                        "commit"} as JSON (ArgoCD/Flux/Portainer hook or your own endpoint);
#                        DEPLOY_WEBHOOK_TOKEN goes into an Authorization: Bearer header, handed
#                        to curl on stdin (never on its command line).
#   KUBE_CONTEXT         (the GitLab agent's context, path/to/agent-project:agent-name) or a
#   or KUBECONFIG        KUBECONFIG: apply the kustomize overlay of the stage's environment
#                        (deploy/kubernetes/overlays/<environment>, DEPLOY_OVERLAY overrides it)
#                        with the image set by digest, wait for the rollout (DEPLOY_TIMEOUT, 300 s)
#                        and, when it fails, roll it back with `kubectl rollout undo` and fail.
# Stage -> environment: prod -> production, any other stage keeps its name.
# IMAGE_REPO overrides $CI_REGISTRY_IMAGE. Writes deploy.env (a dotenv report).
set -euo pipefail
TAG="${1:-${CI_COMMIT_TAG:?deploy: runs for a GTO stage tag such as model#prod#1}}"
IMAGE_REPO="${IMAGE_REPO:-${CI_REGISTRY_IMAGE:-}}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() { echo "deploy: $*" >&2; exit 1; }

# -- which version, which commit, which image ------------------------------------------------
info="$(gto check-ref --json "$TAG")" || die "$TAG is not a GTO tag"
[ -n "$info" ] || die "$TAG is not a GTO tag of this repository (fetch tags: GIT_DEPTH 0)"
field() { python -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1]) or "")' "$1" <<<"$info"; }
name="$(field artifact)"
version="$(field version)"
stage="$(field stage)"
[ -n "$stage" ] || die "$TAG is not a stage assignment (want model#<stage>#N)"
[[ "$stage" =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "stage name '$stage' is not a valid environment name"
case "$stage" in
  prod) environment=production ;;
  *) environment="$stage" ;;
esac
commit="$(git rev-parse --verify --quiet "refs/tags/$name@$version^{commit}")" \
  || die "no tag $name@$version here (fetch tags: GIT_DEPTH 0)"
[ -n "$IMAGE_REPO" ] || die "set CI_REGISTRY_IMAGE (or IMAGE_REPO) to the image repository"
[[ "$IMAGE_REPO" =~ ^[a-z0-9][a-z0-9._/:-]*$ ]] || die "IMAGE_REPO '$IMAGE_REPO' is not an image repository"
echo "deploy: $TAG assigns $version ($name@$version = commit $commit) to $stage -> $environment"

# The registry's digest of $IMAGE_REPO:<commit>. Credentials (CI_REGISTRY_USER/PASSWORD, the
# job token in GitLab) go to the tool on stdin, into a throw-away auth file.
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
digest_of() {
  local ref="$1"
  if command -v skopeo >/dev/null 2>&1; then
    export REGISTRY_AUTH_FILE="$workdir/auth.json"
    if [ -n "${CI_REGISTRY_PASSWORD:-}" ]; then
      printf '%s' "$CI_REGISTRY_PASSWORD" | skopeo login --authfile "$REGISTRY_AUTH_FILE" \
        --username "${CI_REGISTRY_USER:?}" --password-stdin "${CI_REGISTRY:?}" >/dev/null
    fi
    skopeo inspect --authfile "$REGISTRY_AUTH_FILE" --no-tags --format '{{.Digest}}' "docker://$ref"
  elif command -v crane >/dev/null 2>&1; then
    export DOCKER_CONFIG="$workdir/docker"
    if [ -n "${CI_REGISTRY_PASSWORD:-}" ]; then
      printf '%s' "$CI_REGISTRY_PASSWORD" | crane auth login "${CI_REGISTRY:?}" \
        --username "${CI_REGISTRY_USER:?}" --password-stdin >/dev/null
    fi
    crane digest "$ref"
  else
    die "needs skopeo or crane to read the image digest (apt-get install skopeo)"
  fi
}
tagged="$IMAGE_REPO:$commit"
digest="$(digest_of "$tagged")" || die "no image $tagged in the registry (did the build job run for $commit?)"
[[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "registry answered '$digest' for $tagged, not a digest"
image="$IMAGE_REPO@$digest"
echo "deploy: $tagged is $image"

# -- roll out ----------------------------------------------------------------------------------
kube() { kubectl ${KUBE_CONTEXT:+--context "$KUBE_CONTEXT"} "$@"; }

deploy_webhook() {
  local body token
  body="$(printf '{"image":"%s","digest":"%s","version":"%s","stage":"%s","environment":"%s","tag":"%s","commit":"%s"}' \
    "$image" "$digest" "$version" "$stage" "$environment" "$TAG" "$commit")"
  token="${DEPLOY_WEBHOOK_TOKEN:-}"
  token="${token//\\/\\\\}"
  token="${token//\"/\\\"}"
  token="${token//[$'\r\n']/}"  # one config line, whatever the variable holds
  # curl reads the header from its config on stdin: the token is in no argument list.
  { [ -z "$token" ] || printf 'header = "Authorization: Bearer %s"\n' "$token"; } \
    | curl --config - --fail --show-error --silent --max-time 60 -X POST \
      -H "Content-Type: application/json" --data-binary "$body" "$DEPLOY_WEBHOOK_URL" >/dev/null
  echo "deploy: webhook accepted $image"
}

deploy_kubernetes() {
  local overlay="${DEPLOY_OVERLAY:-$ROOT/deploy/kubernetes/overlays/$environment}"
  [ -f "$overlay/kustomization.yaml" ] || die "no overlay $overlay for environment $environment"
  # The image by digest (and the reason in the rollout history), on top of the committed
  # overlay. kustomize needs a relative path to it, so the layer lives inside the repository.
  mkdir -p "$ROOT/build"
  layer="$(mktemp -d "$ROOT/build/deploy.XXXXXX")"  # global: the EXIT trap removes it
  trap 'rm -rf "$workdir" "$layer"' EXIT
  cat > "$layer/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$layer" "$overlay")
images:
  - name: mlops-template-api
    newName: $IMAGE_REPO
    digest: $digest
patches:
  - target:
      kind: Deployment
    patch: |-
      - op: add
        path: /metadata/annotations
        value:
          kubernetes.io/change-cause: "$TAG: $version ($commit) $digest"
EOF
  kube kustomize "$layer" > "$layer/manifests.yaml"
  mapfile -t deployments < <(python -c '
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc["kind"] == "Deployment":
        print(doc["metadata"].get("namespace", "default") + "/" + doc["metadata"]["name"])
' "$layer/manifests.yaml")
  ((${#deployments[@]})) || die "the overlay $overlay renders no Deployment"
  kube apply -f "$layer/manifests.yaml"
  local failed=()
  for ref in "${deployments[@]}"; do
    if ! kube -n "${ref%%/*}" rollout status "deployment/${ref#*/}" --timeout="${DEPLOY_TIMEOUT:-300}s"; then
      failed+=("$ref")
    fi
  done
  ((${#failed[@]})) || { echo "deploy: $image is live in $environment"; return 0; }
  for ref in "${failed[@]}"; do
    echo "deploy: rollout of deployment/${ref#*/} in ${ref%%/*} failed; rolling back" >&2
    if kube -n "${ref%%/*}" rollout undo "deployment/${ref#*/}"; then
      kube -n "${ref%%/*}" rollout status "deployment/${ref#*/}" --timeout="${DEPLOY_TIMEOUT:-300}s" \
        || echo "deploy: the rollback of deployment/${ref#*/} did not finish either" >&2
    else
      echo "deploy: nothing to roll back to (first deploy?)" >&2
    fi
  done
  die "$image did not roll out in $environment; rolled back to the previous revision"
}

if [ "${DEPLOY_DRY_RUN:-false}" = "true" ]; then
  echo "deploy: dry run, nothing rolled out"
elif [ -n "${DEPLOY_WEBHOOK_URL:-}" ]; then
  deploy_webhook
elif [ -n "${KUBE_CONTEXT:-}" ] || [ -n "${KUBECONFIG:-}" ]; then
  deploy_kubernetes
else
  die "no target configured: set KUBE_CONTEXT (GitLab agent) or DEPLOY_WEBHOOK_URL (docs/kubernetes.md)"
fi
printf 'DEPLOYED_IMAGE=%s\nDEPLOYED_VERSION=%s\nDEPLOYED_COMMIT=%s\nDEPLOY_ENVIRONMENT=%s\n' \
  "$image" "$version" "$commit" "$environment" > deploy.env
