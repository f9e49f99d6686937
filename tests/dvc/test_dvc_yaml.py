"""dvc.yaml can't go stale: every project file a stage imports is one of its deps, and its
outputs are the paths the code writes (`mlops_template.core.paths`).

The imports are found by reading the source with `ast` at every depth (imports inside
functions too, which importing the module would not reveal), skipping `if TYPE_CHECKING:`
blocks. Then real DVC shows it: with every source file edited, `dvc status` reports each
stage's imported files as changed.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from mlops_template.core import config, paths
from tests.support.repo import copy_checkout, init_repo
from tests.support.shell import ROOT, sh

PACKAGES = {"mlops_template": ROOT / "src" / "mlops_template", "api": ROOT / "api"}
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES: dict[str, dict[str, object]] = DVC_YAML["stages"]


def module_file(name: str) -> Path | None:
    """The project file of module `name` (a package's __init__.py), or None if not ours."""
    top, *rest = name.split(".")
    if top not in PACKAGES:
        return None
    base = PACKAGES[top].joinpath(*rest)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(path: Path, package: str) -> set[str]:
    """Modules named by the import statements of `path` (at any depth, not under TYPE_CHECKING)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package `level - 1` above this module's
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def package_of(path: Path) -> str:
    for top, folder in PACKAGES.items():
        if folder in path.parents:
            # a module's package, or the package an __init__.py stands for: the folder
            return ".".join([top, *path.relative_to(folder).parts[:-1]])
    raise AssertionError(f"{path} is not in a project package")


def with_parents(path: Path) -> set[Path]:
    """`path` and the __init__.py of every package above it (importing runs them too)."""
    files = {path}
    for folder in path.parents:
        if not (folder / "__init__.py").is_file():
            break
        files.add(folder / "__init__.py")
    return files


def imported_files(module: str) -> set[Path]:
    """Every project file that running `python -m module` imports, transitively."""
    start = module_file(module)
    assert start is not None, f"{module} is not a project module"
    seen: set[Path] = set()
    todo = with_parents(start)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_names(path, package_of(path)):
            found = module_file(name)
            if found is not None:
                todo |= with_parents(found) - seen
    return seen


def stage_module(stage: str) -> str:
    cmd = str(STAGES[stage]["cmd"]).split()
    assert cmd[:2] == ["python", "-m"], f"{stage}: cmd is not `python -m <module>`"
    return cmd[2]


def deps(stage: str) -> list[Path]:
    return [ROOT / str(d) for d in STAGES[stage].get("deps", [])]  # type: ignore[attr-defined]


def outs(stage: str) -> list[Path]:
    found = []
    for key in ("outs", "metrics", "plots"):
        for entry in STAGES[stage].get(key, []):  # type: ignore[attr-defined]
            found.append(Path(next(iter(entry)) if isinstance(entry, dict) else entry))
    return found


def covered(path: Path, by: list[Path]) -> bool:
    return any(path == dep or dep in path.parents for dep in by)


def relative(files: set[Path]) -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in files)


def test_the_walk_sees_imports_inside_functions_and_skips_type_checking(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from mlops_template.core import bundle\n"
        "else:\n    import json\n"
        "def f():\n    from mlops_template.core.config import load\n    from . import io\n"
    )
    names = imported_names(source, "mlops_template.core")
    assert {"mlops_template.core.config", "mlops_template.core.io", "json"} <= names
    assert "mlops_template.core.bundle" not in names
    assert module_file("mlops_template.core.config.load") is None  # a function, not a module


@pytest.mark.parametrize("stage", list(STAGES))
def test_every_imported_project_file_is_a_dep(stage: str) -> None:
    files = imported_files(stage_module(stage))
    missing = {f for f in files if not covered(f, deps(stage))}
    assert not missing, f"dvc.yaml stage '{stage}' lacks deps: {relative(missing)}"


@pytest.mark.parametrize("stage", list(STAGES))
def test_no_code_dep_that_the_stage_does_not_import(stage: str) -> None:
    """A stale code dep reruns a stage for nothing; it also hides a renamed module."""
    files = imported_files(stage_module(stage))
    code = [d for d in deps(stage) if any(d == p or p in d.parents for p in PACKAGES.values())]
    stale = [d for d in code if not any(f == d or d in f.parents for f in files)]
    assert not stale, f"dvc.yaml stage '{stage}' depends on code it never imports: {stale}"


@pytest.mark.parametrize("stage", list(STAGES))
def test_data_deps_and_outputs_are_the_paths_module(stage: str) -> None:
    code = [d for d in deps(stage) if any(d == p or p in d.parents for p in PACKAGES.values())]
    data = {d.relative_to(ROOT) for d in deps(stage) if d not in code}
    assert data == set(paths.INPUTS[stage])
    assert sorted(outs(stage)) == sorted(paths.OUTPUTS[stage])


def test_top_level_metrics_plots_and_artifact_are_stage_outputs() -> None:
    written = [p for stage in STAGES for p in paths.OUTPUTS[stage]]
    files = list(DVC_YAML["metrics"])
    for plot in DVC_YAML["plots"]:
        (spec,) = plot.values()
        files += list(spec["y"]) if isinstance(spec["y"], dict) else []
    for name in files:
        assert covered(Path(name), written), f"{name} is not written by any stage"
    assert DVC_YAML["artifacts"]["model"]["path"] == paths.MODEL.as_posix()


def test_dvc_status_reports_every_stage_whose_imports_changed(tmp_path: Path) -> None:
    """Real DVC: edit every source file; each stage must report the ones it imports."""
    repo = init_repo(copy_checkout(tmp_path), message=None)
    for folder in PACKAGES.values():
        for source in (repo / folder.relative_to(ROOT)).rglob("*.py"):
            source.write_text(source.read_text() + "# edited\n")
    status = json.loads(sh("dvc", "status", "--json", cwd=repo))
    for stage in STAGES:
        changed: set[Path] = set()
        for entry in status.get(stage, []):
            if isinstance(entry, dict):
                changed |= {repo / p for p in entry.get("changed deps", {})}
        imported = {repo / f.relative_to(ROOT) for f in imported_files(stage_module(stage))}
        unreported = {f for f in imported if not covered(f, list(changed))}
        assert not unreported, f"dvc status misses, for '{stage}': {sorted(map(str, unreported))}"


@pytest.mark.parametrize("stage", list(STAGES))
def test_stages_list_whole_params_sections(stage: str) -> None:
    """A single key listed in dvc.yaml must be in params.yaml (DVC fails on a missing one):
    whole sections let every key be left out and still rerun the stage when one changes."""
    listed: list[object] = STAGES[stage].get("params", [])  # type: ignore[assignment]
    sections = {f.name for f in dataclasses.fields(config.Params)}
    assert listed and all(isinstance(p, str) and p in sections for p in listed), listed


def test_the_lock_file_matches_the_code_and_params(tmp_path: Path) -> None:
    """dvc.lock records what produced the committed metrics and model: after a change to a
    stage's code or params, `dvc repro` must run and its dvc.lock be committed with the change
    (or `dvc status` on a fresh clone says every stage is stale, and the metrics lie)."""
    repo = init_repo(copy_checkout(tmp_path, untracked=True), message=None)
    status = json.loads(sh("dvc", "status", "--json", cwd=repo))
    stale: dict[str, list[str]] = {}
    for stage, entries in status.items():
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            deps_changed = entry.get("changed deps", {})
            items = stale.setdefault(stage, [])
            for path, why in deps_changed.items():  # a params file's value: {section: why}
                if why == "modified":
                    items.append(path)
                elif isinstance(why, dict):
                    items += [f"{path}: {section}" for section in why]
    stale = {stage: items for stage, items in stale.items() if items}
    assert not stale, f"dvc.lock is stale (run `dvc repro` and commit dvc.lock): {stale}"
