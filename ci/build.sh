#!/usr/bin/env bash
# The build job (default branch): check that the model bundle (model/, from the train job) is
# the one this commit's dvc.lock records, build docker/Dockerfile with it baked in, and push
#   $IMAGE:<full commit sha>   immutable: what a deploy resolves a model version to
#   $IMAGE:<model version>     a moving convenience tag
# Writes build.env (a dotenv report): IMAGE_DIGEST=sha256:…, IMAGE_REF=$IMAGE@sha256:…, the
# reference later jobs scan, sign and deploy. Buildah, so no Docker socket and no privileged
# runner are needed (README.md#fork-and-push explains the choice).
set -euo pipefail
IMAGE="${IMAGE:-${CI_REGISTRY_IMAGE:?build: CI_REGISTRY_IMAGE or IMAGE}}"
VERSION="${MODEL_VERSION:?build: MODEL_VERSION comes from the register job (register.env)}"
COMMIT="${CI_COMMIT_SHA:-$(git rev-parse HEAD)}"
MODEL_PATH="model/model.skops"
test -f "$MODEL_PATH" -a -f model/model_card.json || {
  echo "build: model/ has no bundle; the train job's artifacts are missing" >&2; exit 1; }

# The model must be the one this commit locked: the image is named after the commit.
locked="$(awk -v path="path: $MODEL_PATH" '$0 ~ path {found=1} found && /md5:/ {print $2; exit}' dvc.lock)"
actual="$(md5sum "$MODEL_PATH" | cut -d' ' -f1)"
[ -n "$locked" ] || { echo "build: $MODEL_PATH is not in dvc.lock" >&2; exit 1; }
if [ "$locked" != "$actual" ]; then
  echo "build: $MODEL_PATH has md5 $actual but dvc.lock of $COMMIT records $locked; refusing to bake another model into this commit's image" >&2
  exit 1
fi
echo "build: $MODEL_PATH md5 $actual matches dvc.lock"

export STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}"        # works in an unprivileged container
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
if [ -n "${CI_REGISTRY:-}" ]; then
  printf '%s' "${CI_REGISTRY_PASSWORD:?build: CI_REGISTRY_PASSWORD}" \
    | buildah login --username "$CI_REGISTRY_USER" --password-stdin "$CI_REGISTRY"
fi
read -ra build_args <<< "${BUILD_ARGS:-}"  # extra flags, split on spaces (e.g. --build-arg X=1)
buildah build --layers --format docker -f docker/Dockerfile \
  --label "org.opencontainers.image.revision=$COMMIT" \
  --label "model.version=$VERSION" \
  --label "model.md5=$actual" \
  "${build_args[@]}" -t "$IMAGE:$COMMIT" -t "$IMAGE:$VERSION" .

if [ "${BUILD_PUSH:-true}" = "true" ]; then
  digest_file="$(mktemp)"
  buildah push --digestfile "$digest_file" "$IMAGE:$COMMIT"
  digest="$(cat "$digest_file")"
  rm -f "$digest_file"
  [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "build: push gave no digest ($digest)" >&2; exit 1; }
  buildah push "$IMAGE:$VERSION"
  printf 'IMAGE_DIGEST=%s\nIMAGE_REF=%s@%s\nIMAGE_COMMIT_TAG=%s:%s\n' \
    "$digest" "$IMAGE" "$digest" "$IMAGE" "$COMMIT" > build.env
  cat build.env
fi
echo "build: $IMAGE:$COMMIT $IMAGE:$VERSION"
