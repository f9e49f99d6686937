"""The hyperparameter search's child pipeline (ci/tune.gitlab-ci.yml), run for real by
gitlab-ci-local in a merge-request clone: the data job, three parallel seed-split sub-studies,
the merge into one leaderboard, and the comment job.

What can't run here and replaces it: `tune:comment` posts with CML from its image, which can't
be reached from this machine, to a GitLab that doesn't exist here; without REPO_TOKEN it says
so and passes, which is what runs here, and the test checks the exact file it would post. The
`tune` trigger job of .gitlab-ci.yml (which starts this child pipeline in GitLab) is checked
against GitLab's schema (test_gitlab_ci_schema.py); gitlab-ci-local runs the child file itself.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from tests.ci.test_pipeline_local import FLAGS, Run
from tests.support.repo import make_mr_repo
from tests.support.shell import VENV, command_env, require_tool

pytestmark = [pytest.mark.slow, pytest.mark.pipeline]

JOBS = ["tune:data", "tune:search: [1/3]", "tune:search: [2/3]", "tune:search: [3/3]"]
JOBS += ["tune:leaderboard", "tune:comment"]


def test_the_search_runs_as_parallel_sub_studies_and_one_leaderboard(tmp_path: Path) -> None:
    require_tool("gitlab-ci-local")
    require_tool("rsync")
    repo = make_mr_repo(tmp_path, {"train": {"epochs": 5}})
    env = {key: value for key, value in command_env().items() if not key.startswith("COV_CORE_")}
    result = subprocess.run(
        ["gitlab-ci-local", "--file", "ci/tune.gitlab-ci.yml", *FLAGS]
        + [f"--variable=CI_REUSE_VENV={VENV}", "--variable=TUNE_MR_IID=1"]
        + ["--variable=TUNE_ARGS=--trials 3", "--variable=CI_PIPELINE_SOURCE=parent_pipeline"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    run = Run(repo, result.returncode, result.stdout + result.stderr)
    assert run.returncode == 0, run.output[-6000:]
    for job in JOBS:
        assert re.search(rf"PASS\s+{re.escape(job)}", run.output), job
    # One progress line per trial in each sub-study's log.
    assert len(re.findall(r"tune: trial \d/3  ", run.output)) == 9
    assert "tune:comment - no REPO_TOKEN in this pipeline: no MR comment" in run.output

    # gitlab-ci-local names artifact folders after the job, ':' escaped
    [folder] = (repo / ".gitlab-ci-local" / "artifacts").glob("tune*leaderboard")
    board = json.loads((folder / "reports" / "tune.json").read_text())
    assert [(s["shard"], s["of"], s["seed"]) for s in board["shards"]] == [
        (1, 3, 42),
        (2, 3, 43),
        (3, 3, 44),
    ]
    assert len(board["trials"]) == 9 and board["baseline"]["note"] == "params.yaml"
    assert board["best"]["value"] >= board["baseline"]["value"]
    table = (folder / "reports" / "tune.md").read_text()
    assert table.startswith("## Hyperparameter search: f1 on the validation split")
    assert "9 trials of `linear` in 3 parallel sub-studies" in table
