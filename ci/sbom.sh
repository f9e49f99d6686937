#!/usr/bin/env bash
# The sbom job: a CycloneDX SBOM of the Python packages in the served image, written by
# cyclonedx-py from inside that image (the job's image is the one the build job pushed).
# The tool gets a venv of its own, so neither it nor its dependencies end up in the SBOM.
#
#   SBOM_PYTHON  the environment to describe (default /opt/venv, the image's; a venv folder or
#                an interpreter)
#   SBOM_FILE    output (default gl-sbom-python-image.cdx.json, an artifacts:reports:cyclonedx)
#   SBOM_TOOL    an installed cyclonedx-py to use instead (default: install the pinned
#                cyclonedx-bom from requirements/constraints.txt into a temporary venv)
set -euo pipefail
target="${SBOM_PYTHON:-/opt/venv}"
out="${SBOM_FILE:-gl-sbom-python-image.cdx.json}"
tool="${SBOM_TOOL:-}"
if [ -z "$tool" ]; then
  venv="$(mktemp -d)/sbom-tool"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    -c requirements/constraints.txt cyclonedx-bom
  tool="$venv/bin/cyclonedx-py"
fi
"$tool" environment --output-format JSON --output-reproducible --output-file "$out" "$target"
echo "sbom: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["components"]))' "$out") packages of $target -> $out"
