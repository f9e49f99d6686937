#!/usr/bin/env bash
# Build (and optionally run) docker/Dockerfile on a machine without a Docker engine and without
# Docker Hub: podman + a local Debian bookworm base that stands in for python:3.11-slim, and a
# wheelhouse made on the host so the build needs no network (PyPI inside a build would need this
# machine's CA bundle). Upstream CI builds the same Dockerfile with buildah/kaniko against the
# real python:3.11-slim.
#
#   docker/build-local.sh                 # base image (once) + wheelhouse + image
#   IMAGE=my/api:dev docker/build-local.sh
#
# Environment: IMAGE (default localhost/mlops-template-api:local), MODEL_DIR (the bundle to bake
# in, default model/), STATE_DIR (podman storage, config and staged context, default build/podman),
# DEBIAN_MIRROR (default: the mirror apt uses here).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${IMAGE:-localhost/mlops-template-api:local}"
BASE="${BASE:-localhost/python-standin:3.11-bookworm}"
STATE_DIR="${STATE_DIR:-$ROOT/build/podman}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
mkdir -p "$STATE_DIR"
STATE_DIR="$(cd "$STATE_DIR" && pwd)"

# podman fixes for this VM: runc (crun refuses the hybrid cgroups), fixed ulimits (root lacks
# CAP_SYS_RESOURCE), image store inside STATE_DIR.
cat > "$STATE_DIR/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
cat > "$STATE_DIR/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$STATE_DIR/storage"
runroot = "$STATE_DIR/run"
CONF
export CONTAINERS_CONF="$STATE_DIR/containers.conf"
export CONTAINERS_STORAGE_CONF="$STATE_DIR/storage.conf"

mirror() {
    if [[ -n "${DEBIAN_MIRROR:-}" ]]; then echo "$DEBIAN_MIRROR"; return; fi
    local uri
    uri="$(grep -hoE '^URIs: *\S+/debian$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 \
        | awk '{print $2}')"
    if [[ -z "$uri" ]]; then
        uri="$(grep -hoE '^deb +\S+/debian ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
            2>/dev/null | head -1 | awk '{print $2}')"
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

if ! podman image exists "$BASE"; then
    rootfs="$(mktemp -d)"
    trap 'rm -rf "$rootfs"' EXIT
    echo "debootstrap bookworm from $(mirror) (python3 stand-in for python:3.11-slim)" >&2
    debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
        bookworm "$rootfs" "$(mirror)" >"$STATE_DIR/debootstrap.log" 2>&1 \
        || { tail -20 "$STATE_DIR/debootstrap.log" >&2; exit 1; }
    # The official image's pip installs system-wide; Debian's refuses (PEP 668) unless this goes.
    rm -f "$rootfs"/usr/lib/python3.*/EXTERNALLY-MANAGED
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
    tar -C "$rootfs" -c . | podman import --change 'CMD ["python3"]' - "$BASE" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
fi

# Wheelhouse: the package's dependencies and its `serve` extra (read from pyproject.toml) pinned by
# the lock file, plus the build backend for the package itself, so the build runs with
# pip --no-index.
"$PYTHON" - "$ROOT/pyproject.toml" > "$STATE_DIR/requirements-serve.txt" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["serve"]))
PY
"$PYTHON" -m pip download --quiet --dest "$ROOT/docker/wheels" --only-binary=:all: \
    -c "$ROOT/requirements/constraints.txt" -r "$STATE_DIR/requirements-serve.txt" \
    "setuptools>=77" wheel

# The build context: what .dockerignore lets through, with the model bundle from MODEL_DIR
# (default model/, made by `make train`; tests pass the bundle they trained).
MODEL_DIR="${MODEL_DIR:-$ROOT/model}"
for f in model.skops model_card.json; do
    [[ -f "$MODEL_DIR/$f" ]] || { echo "no $MODEL_DIR/$f: run 'make train' first" >&2; exit 1; }
done
context="$STATE_DIR/context"
rm -rf "$context" && mkdir -p "$context/model" "$context/requirements" "$context/docker"
cp -r "$ROOT/api" "$ROOT/src" "$ROOT/pyproject.toml" "$ROOT/README.md" "$ROOT/LICENSE" \
    "$ROOT/.dockerignore" "$context/"
cp "$ROOT/requirements/constraints.txt" "$context/requirements/"
cp -r "$ROOT/docker/Dockerfile" "$ROOT/docker/wheels" "$context/docker/"
cp "$MODEL_DIR/model.skops" "$MODEL_DIR/model_card.json" "$context/model/"

podman build --format docker --file "$context/docker/Dockerfile" --tag "$IMAGE" \
    --build-arg BASE_IMAGE="$BASE" --build-arg PIP_INSTALL_ARGS="--no-index" "$context"
echo "built $IMAGE (CONTAINERS_CONF=$CONTAINERS_CONF CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF)" >&2
