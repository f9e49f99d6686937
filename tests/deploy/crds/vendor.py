"""Vendor the CRD schemas the deploy tests check custom kinds against (a maintainer's script,
not run by the tests: it needs clones of the two projects).

    python tests/deploy/crds/vendor.py PROMETHEUS_OPERATOR_CLONE KSERVE_CLONE

writes one `<kind>.schema.yaml` per kind: the `openAPIV3Schema` of the CRD exactly as the
project publishes it, with the `description` texts removed (they are most of the size). The
InferenceService CRD is 1.9 MB, so its schema keeps full detail only along the fields listed
in KEEP (what deploy/kserve uses, and everything under them); any other property keeps its
name but not its schema, so an unknown or misspelled field is still an error while a valid
field the template doesn't use is accepted unchecked. Source, path and commit go into each
file's header. Both projects are Apache-2.0 licensed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SOURCES = [
    # (kind, repository, path in the repository)
    (
        "ServiceMonitor",
        "prometheus-operator/prometheus-operator",
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
    ),
    (
        "PodMonitor",
        "prometheus-operator/prometheus-operator",
        "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
    ),
    (
        "PrometheusRule",
        "prometheus-operator/prometheus-operator",
        "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
    ),
    (
        "InferenceService",
        "kserve/kserve",
        "config/crd/full/serving.kserve.io_inferenceservices.yaml",
    ),
]
# InferenceService: the property paths whose schema is kept whole (dots between names).
KEEP = {
    "InferenceService": [
        "apiVersion",
        "kind",
        "metadata",
        "spec.predictor.minReplicas",
        "spec.predictor.maxReplicas",
        "spec.predictor.scaleMetric",
        "spec.predictor.scaleTarget",
        "spec.predictor.labels",
        "spec.predictor.annotations",
        "spec.predictor.automountServiceAccountToken",
        "spec.predictor.terminationGracePeriodSeconds",
        "spec.predictor.securityContext",
        "spec.predictor.containers",
        "spec.predictor.volumes",
        "spec.predictor.topologySpreadConstraints",
    ]
}
STUB = {"x-kubernetes-preserve-unknown-fields": True}


def strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def prune(node: dict[str, Any], keep: list[list[str]]) -> dict[str, Any]:
    """Keep the schema of kept paths (and their ancestors' property names); stub the rest."""
    if any(not path for path in keep):
        return node  # a kept path ends here: everything below stays
    props = node.get("properties", {})
    out = {k: v for k, v in node.items() if k != "properties"}
    out["properties"] = {}
    for name, child in props.items():
        below = [path[1:] for path in keep if path[0] == name]
        out["properties"][name] = prune(child, below) if below else dict(STUB)
    return out


def schema(repo_dir: Path, path: str, kind: str) -> tuple[dict[str, Any], str, str]:
    commit = subprocess.run(
        ["git", "-C", str(repo_dir), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    text = subprocess.run(
        ["git", "-C", str(repo_dir), "show", f"HEAD:{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    crd = yaml.safe_load(text)
    (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
    body = strip(version["schema"]["openAPIV3Schema"])
    if kind in KEEP:
        body = prune(body, [p.split(".") for p in KEEP[kind]])
    doc = {
        "group": crd["spec"]["group"],
        "version": version["name"],
        "kind": crd["spec"]["names"]["kind"],
        "openAPIV3Schema": body,
    }
    return doc, commit, version["name"]


def main(prometheus_operator: str, kserve: str) -> None:
    clones = {
        "prometheus-operator/prometheus-operator": Path(prometheus_operator),
        "kserve/kserve": Path(kserve),
    }
    for kind, repo, path in SOURCES:
        doc, commit, _ = schema(clones[repo], path, kind)
        pruned = " (pruned: see vendor.py KEEP)" if kind in KEEP else ""
        header = (
            f"# {kind} CRD schema{pruned}, descriptions removed, vendored by vendor.py from\n"
            f"# https://github.com/{repo} {path} at commit {commit} (Apache-2.0).\n"
        )
        out = HERE / f"{kind}.schema.yaml"
        out.write_text(header + yaml.safe_dump(doc, sort_keys=False, width=100))
        print(f"wrote {out.name}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main(*sys.argv[1:3])
