#!/usr/bin/env bash
# The build job: build docker/Dockerfile with the model bundle (model/, from the train job) baked
# in and push it to the project's registry as :<model version> and :<commit>. Buildah, so no
# Docker socket and no privileged runner are needed (README.md#fork-and-push explains the choice).
set -euo pipefail
IMAGE="${IMAGE:-$CI_REGISTRY_IMAGE}"
VERSION="${MODEL_VERSION:?build: MODEL_VERSION comes from the register job (register.env)}"
COMMIT="${CI_COMMIT_SHORT_SHA:-$(git rev-parse --short HEAD)}"
test -f model/model.skops -a -f model/model_card.json || {
  echo "build: model/ has no bundle; the train job's artifacts are missing" >&2; exit 1; }

export STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}"        # works in an unprivileged container
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
if [ -n "${CI_REGISTRY:-}" ]; then
  echo "$CI_REGISTRY_PASSWORD" | buildah login --username "$CI_REGISTRY_USER" --password-stdin "$CI_REGISTRY"
fi
read -ra build_args <<< "${BUILD_ARGS:-}"  # extra flags, split on spaces (e.g. --build-arg X=1)
buildah build --layers --format docker -f docker/Dockerfile \
  --label "org.opencontainers.image.revision=${CI_COMMIT_SHA:-$COMMIT}" \
  --label "model.version=$VERSION" \
  "${build_args[@]}" -t "$IMAGE:$VERSION" -t "$IMAGE:$COMMIT" .
if [ "${BUILD_PUSH:-true}" = "true" ]; then
  buildah push "$IMAGE:$VERSION"
  buildah push "$IMAGE:$COMMIT"
fi
echo "build: $IMAGE:$VERSION $IMAGE:$COMMIT"
