"""The docs stay true: every relative link points at a file that exists and, with `#anchor`, at
a heading or an `<a id>` in it; the README's project layout names the folders that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.shell import ROOT

DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md"]
DOCS += sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitLab/GitHub heading anchors (lower case, punctuation dropped, spaces → -) and ids."""
    text = path.read_text()
    found = set(re.findall(r'<a id="([^"]+)"', text))
    fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return found


def links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return [t for t in LINK.findall(text) if not t.startswith(("http://", "https://", "mailto:"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(doc: Path) -> None:
    for target in links(doc):
        name, _, anchor = target.partition("#")
        path = (doc.parent / name).resolve() if name else doc
        assert path.exists(), f"{doc.name}: link to a missing file {target}"
        if anchor and path.suffix == ".md":
            assert anchor in anchors(
                path
            ), f"{doc.name}: no heading #{anchor} in {name or doc.name}"


def test_the_layout_section_names_every_folder() -> None:
    layout = re.search(
        r"## Project layout\n\n```\n(.*?)```", (ROOT / "README.md").read_text(), re.S
    )
    assert layout is not None
    named = {m.rstrip("/") for m in re.findall(r"(?m)^\s*([\w./-]+/)\s", layout.group(1))}
    for folder in ("src/mlops_template", "api", "tests", "docker", "monitoring", "bench", "docs"):
        assert folder in named, folder
    for package in ("core", "stages", "review", "ct"):
        assert (ROOT / "src" / "mlops_template" / package).is_dir() and package in named
    for package in ("routes", "telemetry"):
        assert (ROOT / "api" / package).is_dir() and package in named
    assert "support" in named and (ROOT / "tests" / "support").is_dir()
