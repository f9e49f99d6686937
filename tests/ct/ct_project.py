"""A throw-away project for the retrain tests: this checkout's tracked files in a fresh git
repo whose data comes from an *imported* CSV (`dvc import-url`), trained, registered with GTO
and assigned to `prod`; plus a bare `origin.git` to push to and a local DVC remote.

Drifting the upstream CSV then gives the retrain job genuinely new data to `dvc update`.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from mlops_template.stages import datasets
from tests.support.repo import copy_checkout, init_repo
from tests.support.shell import BIN, command_env, sh

SHIFTED = {"mean_radius": 1.35, "worst_area": 1.8, "mean_texture": 1.3}  # column → factor


@dataclass(frozen=True)
class Project:
    work: Path  # the clone a job runs in (branch main, origin = origin.git)
    origin: Path  # bare repo standing in for GitLab's git server
    upstream: Path  # the CSV the project imports with `dvc import-url`
    store: Path  # the DVC remote

    def drift_upstream(self) -> None:
        """New upstream rows: the data set again with some features scaled (labels kept)."""
        frame = pd.read_csv(self.upstream)
        shifted = frame.copy()
        for column, factor in SHIFTED.items():
            shifted[column] = shifted[column] * factor
        pd.concat([frame, shifted], ignore_index=True).to_csv(self.upstream, index=False)


def make_project(base: Path, cache: Path | None = None) -> Project:
    """Build the project (about one `dvc repro`); see the module docstring. With `cache`
    (a DVC cache shared by the tests, set in the git-ignored .dvc/config.local), a second
    project's `dvc repro` restores the stages from DVC's run-cache instead of training again."""
    seed, origin, work = base / "seed", base / "origin.git", base / "work"
    upstream, store = base / "upstream" / "data.csv", base / "dvc-store"
    upstream.parent.mkdir(parents=True)
    datasets.read("breast_cancer").to_csv(upstream, index=False)
    init_repo(copy_checkout(seed, skip=("model/model.skops",)), message=None)
    if cache is not None:
        sh("dvc", "cache", "dir", "--local", cache, cwd=seed)
    sh("dvc", "remote", "add", "-f", "-d", "local", store, cwd=seed)
    (seed / "data").mkdir(exist_ok=True)
    sh("dvc", "import-url", upstream, "data/source.csv", cwd=seed)
    params = yaml.safe_load((seed / "params.yaml").read_text())
    params["data"]["source"] = "data/source.csv"
    (seed / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh("git", "add", "-A", cwd=seed)
    sh("git", "commit", "-q", "-m", "seed", cwd=seed)  # DVCLive needs a commit to exist
    sh("dvc", "repro", cwd=seed)
    sh("git", "add", "-A", cwd=seed)
    sh("git", "commit", "-q", "-m", "main: model trained on the imported data", cwd=seed)
    sh("gto", "register", "model", cwd=seed)
    sh("gto", "assign", "model", "--version", "v0.0.1", "--stage", "prod", cwd=seed)
    sh("dvc", "push", cwd=seed)
    sh("git", "clone", "-q", "--bare", seed, origin, cwd=base)
    sh("git", "clone", "-q", origin, work, cwd=base)
    if cache is not None:
        sh("dvc", "cache", "dir", "--local", cache, cwd=work)
    sh("dvc", "pull", cwd=work)
    return Project(work, origin, upstream, store)


def run_retrain_job(project: Project, variables: dict[str, str]) -> str:
    """The `retrain` job of .gitlab-ci.yml under gitlab-ci-local, in the shell, on a copy of
    the project (--shell-isolation), artifacts not copied back; returns the job log."""
    returncode, job_log = run_job(project, "retrain", variables)
    assert returncode == 0, job_log[-6000:]
    return job_log


def run_job(project: Project, job: str, variables: dict[str, str]) -> tuple[int, str]:
    """A job of .gitlab-ci.yml under gitlab-ci-local as `run_retrain_job` runs it; its exit
    status (non-zero when the job failed) and log."""
    args: list[str | Path] = [
        "gitlab-ci-local",
        "--force-shell-executor",
        "--shell-isolation",
        "--no-artifacts-to-source",
        "--ignore-predefined-vars",
        "CI,CI_PIPELINE_SOURCE,CI_API_V4_URL,CI_PROJECT_ID",
        # No pip install per job: the job links this venv (ci/setup.sh, CI_REUSE_VENV).
        "--variable",
        f"CI_REUSE_VENV={BIN.parent}",
        # Local mode with pushing on: with CI=true the job sends its token only over https to
        # a host in ci/allowed-hosts, and the stand-ins here are plain http on 127.0.0.1.
        "--variable",
        "CI=false",
        "--variable",
        "RETRAIN_PUSH=1",
        "--variable",
        "TRAIN_RUNNER_TAG=local",
    ]
    for name, value in variables.items():
        args += ["--variable", f"{name}={value}"]
    done = subprocess.run(
        [str(a) for a in (*args, job)],
        cwd=project.work,
        capture_output=True,
        text=True,
        env=command_env(),
        timeout=1200,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr
