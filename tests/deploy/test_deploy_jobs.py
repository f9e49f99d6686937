"""The deploy jobs of .gitlab-ci.yml: a model#staging#N tag starts deploy:staging, a
model#prod#N tag deploy:production (manual unless DEPLOY_AUTO=true), each in the GitLab
environment whose overlay ci/deploy.sh applies, one deploy at a time per environment.
The rules' regular expressions are evaluated here as GitLab evaluates them (RE2 and Python's
re agree on these); the jobs themselves need a GitLab agent and a registry to run."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from tests.deploy.manifests import OVERLAYS
from tests.support.shell import ROOT

PIPELINE = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
JOBS = {"deploy:staging": "staging", "deploy:production": "production"}


def job(name: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for parent in PIPELINE[name].get("extends", []):
        merged.update(job(parent))
    merged.update(PIPELINE[name])
    return merged


def when(rules: list[dict[str, Any]], tag: str, auto: str = "false") -> str:
    """The first matching rule's `when` for a tag pipeline ("never" when none matches)."""
    for rule in rules:
        condition = rule["if"].replace('$DEPLOY_AUTO == "true"', str(auto == "true"))
        match = re.fullmatch(r"\$CI_COMMIT_TAG =~ /(.+)/( && (True|False))?", condition)
        assert match, f"unexpected rule {rule['if']}"
        if re.search(match.group(1), tag) and match.group(3) != "False":
            return str(rule.get("when", "on_success"))
    return "never"


@pytest.mark.parametrize(
    ("tag", "auto", "expected"),
    [
        ("model#staging#4", "false", {"deploy:staging": "on_success"}),
        ("model#prod#5", "false", {"deploy:production": "manual"}),
        ("model#prod#5", "true", {"deploy:production": "on_success"}),
        ("model@v1.2.3", "true", {}),
        ("model#prod#5-evil", "true", {}),
    ],
)
def test_each_stage_tag_starts_its_own_deploy_job(
    tag: str, auto: str, expected: dict[str, str]
) -> None:
    started = {name: when(job(name)["rules"], tag, auto) for name in JOBS}
    assert {k: v for k, v in started.items() if v != "never"} == expected


@pytest.mark.parametrize("name", JOBS)
def test_deploy_jobs_run_the_script_in_their_environment(name: str) -> None:
    spec = job(name)
    environment = JOBS[name]
    assert spec["environment"]["name"] == environment
    assert environment in {p.name for p in OVERLAYS}, "ci/deploy.sh applies overlays/<environment>"
    assert spec["resource_group"] == environment  # never two rollouts of one environment at once
    assert spec["stage"] == "deploy" and spec["interruptible"] is False
    assert spec["variables"]["GIT_DEPTH"] == "0"  # the model@ tags the script resolves
    assert 'ci/deploy.sh "$CI_COMMIT_TAG"' in spec["script"]
    assert spec["artifacts"]["reports"]["dotenv"] == "deploy.env"
