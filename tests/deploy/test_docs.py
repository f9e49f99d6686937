"""docs/kubernetes.md stays true: its Kubernetes objects validate strictly, its KServe
kustomization renders with the image by digest, and the files and targets it names exist."""

from __future__ import annotations

import re
import shutil
import tempfile
import textwrap
from pathlib import Path

import yaml
from tests.deploy.manifests import container, render, run, venv_tool
from tests.support.shell import ROOT

DOC = (ROOT / "docs" / "kubernetes.md").read_text()


def blocks(language: str) -> list[str]:
    found = re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)
    return [textwrap.dedent(block) for block in found]


def test_the_objects_in_the_doc_validate_strictly(tmp_path: Path) -> None:
    objects = [
        doc
        for block in blocks("yaml")
        for doc in yaml.safe_load_all(block)
        if isinstance(doc, dict) and "kind" in doc
    ]
    assert {o["kind"] for o in objects} >= {"Role", "RoleBinding"}
    path = tmp_path / "doc.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    out = run(venv_tool("kubernetes-validate"), "--strict", path)
    assert out.count(" passed for resource ") == len(objects), out


def test_the_kserve_example_renders_with_the_image_by_digest() -> None:
    (script,) = [b for b in blocks("bash") if "build/kserve" in b]
    (body,) = re.findall(r"<<'YAML'\n(.*?)YAML\n", script, flags=re.DOTALL)
    digest = "sha256:" + "e" * 64
    body = body.replace("sha256:<the digest ci/deploy.sh prints>", digest)
    (ROOT / "build").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=ROOT / "build"))  # the same depth as build/kserve
    try:
        (folder / "kustomization.yaml").write_text(body)
        docs = render(folder)
    finally:
        shutil.rmtree(folder)
    service = [d for d in docs if d["kind"] == "InferenceService"][0]
    image = service["spec"]["predictor"]["containers"][0]["image"]
    assert image == f"registry.gitlab.com/your-group/your-project@{digest}"


def test_paths_and_make_targets_named_in_the_doc_exist() -> None:
    for path in set(re.findall(r"`((?:deploy|monitoring|docker|ci|tests/deploy)/[\w./*-]+)`", DOC)):
        if "*" not in path and "<" not in path:
            assert (ROOT / path).exists(), path
    makefile = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"`make ([\w-]+)", DOC)):
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), target


def test_the_sizing_in_the_doc_is_the_deployments() -> None:
    resources = container(render(ROOT / "deploy" / "kubernetes" / "overlays" / "production"))[
        "resources"
    ]
    assert f"**{resources['limits']['memory']}**" in DOC
    assert (
        f"(**{resources['limits']['cpu']}**)" in DOC
        and f"(**{resources['requests']['cpu']}**)" in DOC
    )
