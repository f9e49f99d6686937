"""Which job can use which secret: the table of docs/security.md against the pipeline.

A job *references* a secret when its name appears in what the job runs: its script lines (and
those of the templates it extends), the ci/*.sh scripts they run or source, the recipes of the
make targets they call, and the Python modules those run with `python -m` (with every project
module they import). GitLab *gives* a job a secret when the pipeline's ref may see it
(protected variables: protected refs only; a merge request's ref is not protected) and the
job's environment matches the variable's scope. Which jobs a merge-request pipeline runs is
decided by gitlab-ci-local evaluating the real rules, plus every job of a child pipeline that a
merge-request job triggers (ci/tune.gitlab-ci.yml: its jobs have no rules of their own).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.repo import commit_all, copy_checkout
from tests.support.shell import require_tool, ROOT, sh

RESERVED = {"include", "workflow", "stages", "variables", "default"}
READ_ONLY_DATA = "GDRIVE_CREDENTIALS_DATA_READONLY"
IMPLICIT = {"kubectl": "KUBECONFIG", "cml ": "REPO_TOKEN"}  # tools that read a variable themselves


@dataclass(frozen=True)
class Secret:
    name: str
    role: str
    protected: bool
    scopes: frozenset[str]  # environment scopes (one value of the variable per scope)
    used_by: frozenset[str]


def secrets_table() -> dict[str, Secret]:
    text = (ROOT / "docs" / "security.md").read_text()
    section = text.split("\n## Secrets\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    table = {}
    for row in rows:
        name, _, role, protected, scope, used_by = [c.strip() for c in row.strip("|").split("|")]
        assert protected in ("yes", "no"), row
        secret = Secret(
            name=name.strip("`"),
            role=role,
            protected=protected == "yes",
            scopes=frozenset(part.strip().strip("`") for part in scope.split(",")),
            used_by=frozenset(j.strip() for j in used_by.split(",")),
        )
        table[secret.name] = secret
    return table


CI_FILES = (".gitlab-ci.yml", "ci/retrain.gitlab-ci.yml", "ci/tune.gitlab-ci.yml")


def ci_config() -> dict[str, Any]:
    config: dict[str, Any] = {}
    for path in CI_FILES:
        config.update(yaml.safe_load((ROOT / path).read_text()))
    return config


def child_jobs(trigger: dict[str, Any]) -> set[str]:
    """The jobs of the child pipeline a trigger job starts (a local include)."""
    include = trigger.get("trigger", {}).get("include")
    if not isinstance(include, str):
        return set()
    child = yaml.safe_load((ROOT / include).read_text())
    return {
        name
        for name, body in child.items()
        if name not in RESERVED and not name.startswith(".") and isinstance(body, dict)
    }


def jobs() -> dict[str, dict[str, Any]]:
    config = ci_config()
    found = {}
    for name, body in config.items():
        if name in RESERVED or name.startswith(".") or not isinstance(body, dict):
            continue
        merged: dict[str, Any] = {}
        for parent in body.get("extends", []):
            merged.update(config[parent])
        found[name] = {**merged, **body}
    return found


def environment(job: dict[str, Any]) -> str | None:
    env = job.get("environment")
    return env.get("name") if isinstance(env, dict) else env


@cache
def makefile_recipes() -> dict[str, str]:
    recipes: dict[str, list[str]] = {}
    current = None
    for line in (ROOT / "Makefile").read_text().splitlines():
        match = re.match(r"^([a-zA-Z_-]+):", line)
        if match:
            current = match.group(1)
            recipes.setdefault(current, [])
        elif line.startswith("\t") and current:
            recipes[current].append(line)
    return {target: "\n".join(lines) for target, lines in recipes.items()}


def module_file(module: str) -> Path | None:
    base = ROOT / "src" / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name.startswith("mlops_template")}


def without_comments(script: str) -> str:
    """A shell script without its comments (which name other scripts and variables)."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("#")]
    return "\n".join(re.sub(r"\s+#\s.*$", "", line) for line in lines)


def what_runs(job: dict[str, Any]) -> str:
    """The text of everything the job runs (see the module docstring)."""
    lines = [
        str(line)
        for key in ("before_script", "script", "after_script")
        for line in job.get(key, [])
    ]
    lines += [str(value) for value in (job.get("variables") or {}).values()]
    seen: set[str] = set()
    texts, queue = [], ["\n".join(lines)]
    while queue:
        text = queue.pop()
        texts.append(text)
        refs = {f"ci/{name}" for name in re.findall(r"(?<![\w-])(?:ci/)?([\w-]+\.sh)\b", text)}
        refs |= {f"make:{t}" for t in re.findall(r"\bmake (?:--?[\w-]+ )*([a-z][a-z-]+)", text)}
        refs |= {f"make:{t}" for t in re.findall(r"\$\(MAKE\) ([a-z][a-z-]+)", text)}
        refs |= {f"py:{m}" for m in re.findall(r"python -m ([\w.]+)", text)}
        for ref in refs - seen:
            seen.add(ref)
            kind, _, name = ref.partition(":")
            if kind == "make":
                queue.append(makefile_recipes().get(name, ""))
            elif kind == "py":
                path = module_file(name)
                if path is not None:
                    queue.append(path.read_text())
                    queue += [f"python -m {m}" for m in imported_modules(path)]
            elif (ROOT / ref).is_file():
                queue.append(without_comments((ROOT / ref).read_text()))
    return "\n".join(texts)


def references(job: dict[str, Any], names: list[str]) -> set[str]:
    text = what_runs(job)
    used = {name for name in names if re.search(rf"\b{name}\b", text)}
    return used | {name for tool, name in IMPLICIT.items() if tool in text and name in names}


def given_in_merge_requests(secret: Secret, job: dict[str, Any]) -> bool:
    return not secret.protected and bool(secret.scopes & {"*", environment(job)})


def test_the_table_lists_every_token_with_its_narrow_role() -> None:
    table = secrets_table()
    assert set(table) >= {"REPO_TOKEN", "REGISTER_TOKEN", "GITLAB_TOKEN", "DEPLOY_WEBHOOK_TOKEN"}
    assert "Reporter" in table["REPO_TOKEN"].role and "write" not in table["REPO_TOKEN"].role
    unprotected = {name for name, secret in table.items() if not secret.protected}
    assert unprotected == {"REPO_TOKEN", READ_ONLY_DATA}
    assert "Viewer" in table[READ_ONLY_DATA].role
    for token in ("REPO_TOKEN", "REGISTER_TOKEN", "GITLAB_TOKEN", "DEPLOY_WEBHOOK_TOKEN"):
        assert "*" not in table[token].scopes, f"{token} must be scoped to its job's environment"


def test_the_table_agrees_with_what_each_job_runs() -> None:
    table = secrets_table()
    names = sorted(table)
    all_jobs = jobs()
    for secret in table.values():
        assert secret.used_by <= set(all_jobs), f"{secret.name}: unknown job in 'Used by'"
    for name, job in all_jobs.items():
        used = references(job, names)
        declared = {s.name for s in table.values() if name in s.used_by}
        assert used == declared, f"job {name}: runs {sorted(used)}, table says {sorted(declared)}"


def test_scoped_secrets_reach_only_their_jobs() -> None:
    all_jobs = jobs()
    for secret in secrets_table().values():
        if "*" in secret.scopes:
            continue
        scoped = {name for name, job in all_jobs.items() if environment(job) in secret.scopes}
        assert scoped == secret.used_by, f"{secret.name}: scopes {secret.scopes} reach {scoped}"


def merge_request_jobs(tmp_path: Path) -> set[str]:
    """The jobs of a merge-request pipeline, by gitlab-ci-local's evaluation of the rules (in a
    copy of the checkout: it writes its state next to .gitlab-ci.yml)."""
    require_tool("gitlab-ci-local")
    copy_checkout(tmp_path)
    sh("git", "init", "-q", cwd=tmp_path)
    commit_all(tmp_path, "checkout")  # gitlab-ci-local reads local includes from git
    listed = subprocess.run(
        ["gitlab-ci-local", "--list-json", "--ignore-predefined-vars", "CI_PIPELINE_SOURCE"]
        + ["--variable", "CI_PIPELINE_SOURCE=merge_request_event"]
        + ["--unset-variable", "CI_COMMIT_BRANCH"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    parent = {job["name"] for job in json.loads(listed.stdout) if job["when"] != "never"}
    config = ci_config()
    return parent.union(*(child_jobs(config[name]) for name in parent))


@pytest.mark.pipeline
def test_merge_request_jobs_can_use_only_the_comment_token(tmp_path: Path) -> None:
    table = secrets_table()
    names = sorted(table)
    mr_jobs = merge_request_jobs(tmp_path)
    assert {"lint", "test", "train", "gate", "report", "report:comment", "tune"} <= mr_jobs
    assert {"tune:data", "tune:search", "tune:leaderboard", "tune:comment"} <= mr_jobs
    assert not mr_jobs & {"register", "build", "deploy", "retrain", "dvc-remote-smoke"}
    all_jobs = jobs()
    usable = {}
    for name in sorted(mr_jobs):
        job = all_jobs[name]
        given = {s.name for s in table.values() if given_in_merge_requests(s, job)}
        usable[name] = references(job, names) & given
    tokens = {name: used - {READ_ONLY_DATA} for name, used in usable.items()}
    assert {name: used for name, used in tokens.items() if used} == {
        "report:comment": {"REPO_TOKEN"},
        "tune:comment": {"REPO_TOKEN"},
    }
    # The read-only data key is the one other secret, for the jobs that pull data.
    assert {name for name, used in usable.items() if READ_ONLY_DATA in used} == {
        "train",
        "tune:data",
    }
