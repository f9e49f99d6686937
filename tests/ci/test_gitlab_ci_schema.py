"""`.gitlab-ci.yml` against GitLab's own schema, plus the contracts the schema can't see.

check-jsonschema's vendored `vendor.gitlab-ci` schema is the one GitLab's editor uses; a
misspelled key or a wrong type fails here, so a broken pipeline fails `make test`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.shell import ROOT

CI_FILES = [
    ROOT / ".gitlab-ci.yml",
    ROOT / "ci" / "retrain.gitlab-ci.yml",
    ROOT / "ci" / "tune.gitlab-ci.yml",  # the child pipeline of the manual `tune` job
]
CHECK = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.gitlab-ci"]


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHECK, "--data-transform", "gitlab-ci", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def pipeline() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    return data


def jobs(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    reserved = {"include", "workflow", "stages", "variables", "default"}
    return {
        name: body
        for name, body in config.items()
        if name not in reserved and not name.startswith(".") and isinstance(body, dict)
    }


@pytest.mark.parametrize("path", CI_FILES, ids=lambda p: p.name)
def test_ci_files_match_gitlab_schema(path: Path) -> None:
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "mutation",
    [
        lambda text: text.replace(
            "  script:\n    - ci/apt.sh $LINT", "  scirpt:\n    - ci/apt.sh $LINT"
        ),
        lambda text: text.replace("    max: 1\n", "    max: 7\n"),
        lambda text: text.replace("when: manual", "when: sometimes"),
    ],
    ids=["misspelled-key", "out-of-range", "bad-enum"],
)
def test_schema_rejects_a_broken_pipeline(tmp_path: Path, mutation: Any) -> None:
    original = (ROOT / ".gitlab-ci.yml").read_text()
    broken = mutation(original)
    assert broken != original, "the mutation no longer applies; update this test"
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(broken)
    result = validate(path)
    assert result.returncode != 0, "check-jsonschema accepted a broken .gitlab-ci.yml"


def test_every_job_uses_a_declared_stage() -> None:
    config = pipeline()
    stages = config["stages"]
    assert stages[:3] == ["lint", "test", "train"]
    assert stages.index("gate") < stages.index("report") < stages.index("register")
    assert stages.index("register") < stages.index("build") < stages.index("deploy")
    retrain = yaml.safe_load((ROOT / "ci" / "retrain.gitlab-ci.yml").read_text()) or {}
    for name, job in {**jobs(config), **jobs(retrain)}.items():
        assert job.get("stage", "test") in stages, f"job {name}: unknown stage"


def test_the_tune_job_starts_its_child_pipeline_whose_jobs_use_its_stages() -> None:
    tune = jobs(pipeline())["tune"]
    assert tune["trigger"]["include"] == "ci/tune.gitlab-ci.yml"
    assert tune["rules"] == [
        {
            "if": '$CI_PIPELINE_SOURCE == "merge_request_event"',
            "when": "manual",
            "allow_failure": True,  # optional: the MR pipeline passes without it
        }
    ]
    child = yaml.safe_load((ROOT / "ci" / "tune.gitlab-ci.yml").read_text())
    for name, job in jobs(child).items():
        assert job["stage"] in child["stages"], f"ci/tune.gitlab-ci.yml: job {name}: stage"
    assert isinstance(jobs(child)["tune:search"]["parallel"], int)


def test_jobs_call_existing_make_targets_and_scripts() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-zA-Z_-]+):", makefile, flags=re.MULTILINE))
    child = yaml.safe_load((ROOT / "ci" / "tune.gitlab-ci.yml").read_text())
    for name, job in {**jobs(pipeline()), **jobs(child)}.items():
        lines = [*job.get("script", []), *job.get("before_script", [])]
        for line in lines:
            for target in re.findall(r"\bmake ([a-z_-]+)", line):
                assert target in targets, f"job {name}: `make {target}` is not a Makefile target"
            for script in re.findall(r"\bci/[\w.-]+\.sh", line):
                assert (ROOT / script).is_file(), f"job {name}: {script} does not exist"


def test_test_job_does_not_recurse_into_the_local_pipeline() -> None:
    config = pipeline()
    markers = config["variables"]["PYTEST_MARKERS"]
    assert "not pipeline" in markers and "not container" in markers
    script = " ".join(jobs(config)["test"]["script"])
    assert 'make pytest MARKERS="$PYTEST_MARKERS"' in script
    assert "--junitxml" in script and "--cov-report=xml" in script


def test_workflow_avoids_duplicate_branch_and_mr_pipelines() -> None:
    rules = pipeline()["workflow"]["rules"]
    never = [rule["if"] for rule in rules if rule.get("when") == "never"]
    assert any("$CI_OPEN_MERGE_REQUESTS" in rule for rule in never)
    conditions = " ".join(rule["if"] for rule in rules)
    for source in ("merge_request_event", "schedule", "trigger", "web", "api", "$CI_COMMIT_TAG"):
        assert source in conditions


@pytest.mark.parametrize("script", sorted((ROOT / "ci").glob("*.sh")), ids=lambda p: p.name)
def test_job_scripts_parse(script: Path) -> None:
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
