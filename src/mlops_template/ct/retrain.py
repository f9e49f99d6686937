"""The retrain job: drift alert or schedule → fresh data → retrained model → merge request.

    python -m mlops_template.ct.retrain        (in CI: the `retrain` job; locally: `make retrain`)

Steps: read why it runs (TRIGGER_PAYLOAD, CI_PIPELINE_SOURCE); stop if a retrain merge
request is already open; bring the data up to date (`dvc update` / `dvc pull`); `dvc repro`;
compare with the `model#prod` version on the same test split; quality gate against it; then,
if data or model changed, commit on a new branch, `dvc push`, `git push` and open the merge
request. Settings come from environment variables (see `Settings.from_env`); the GitLab
token only from GITLAB_TOKEN, a masked CI/CD variable.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from mlops_template.ct import drift_report
from mlops_template.core import card, config, io, paths
from mlops_template.core.errors import ConfigError, StageError
from mlops_template.ct import commands, describe, hosts
from mlops_template.ct.compare import Comparison, against_prod
from mlops_template.ct.gitlab import GitLab, GitLabError
from mlops_template.ct.payload import PayloadError, Reason, load
from mlops_template.ct.settings import Settings

log = logging.getLogger(__name__)

IMAGE = re.compile(r"!\[(?P<title>[^\]]*)\]\((?:\./)?(?P<path>[^)\s]+)\)")
# What a retrain changes besides imports (data/feedback: RETRAIN_DATA_UPDATE=feedback).
TRACKED = ["dvc.lock", "params.yaml", "reports", "data/feedback"]


def already_running(gitlab: GitLab, settings: Settings) -> str:
    """Why a second retraining would be redundant ("" if it isn't): an open MR or an older run."""
    mrs = gitlab.open_merge_requests(settings.label)
    if mrs:
        return f"merge request !{mrs[0].get('iid')} with label '{settings.label}' is still open"
    own = int(settings.pipeline_id) if settings.pipeline_id.isdigit() else None
    for source in ("trigger", "schedule"):
        for pipeline in gitlab.running_pipelines(source):
            if own is not None and int(pipeline.get("id", own)) < own:
                return f"retrain pipeline {pipeline.get('id')} ({source}) is still running"
    return ""


def gate(result: Comparison, workdir: Path) -> tuple[bool, str]:
    """The quality gate, with the production model's metrics as the baseline."""
    args = [sys.executable, "-m", "mlops_template.review.gate"]
    if result.prod:
        baseline = workdir / "prod-metrics.json"
        io.write_json(baseline, result.prod)
        args += ["--baseline", str(baseline)]
    done = commands.run(args, check=False)
    message = (done.stdout.strip().splitlines() or [done.stderr.strip()])[-1]
    return done.returncode == 0, message


def drift_markdown(result: Comparison) -> str:
    """Drift of the refreshed data set against the production model's training reference."""
    if result.prod_dir is None or not paths.RAW.is_file():
        return ""
    try:
        report = drift_report.compare(pd.read_parquet(paths.RAW), result.prod_dir)
    except StageError as exc:
        return f"(not comparable: {exc})"
    return drift_report.to_markdown(report)


def _image(match: re.Match[str], out_dir: Path, gitlab: GitLab | None) -> str:
    """Markdown for one report plot: uploaded to GitLab, or a pointer to the artifacts."""
    image = out_dir / match["path"]
    if gitlab is not None and image.is_file():
        try:
            return gitlab.upload(image.name, image.read_bytes())
        except GitLabError as exc:
            log.warning("upload of %s failed (%s); the plot stays in the artifacts", image, exc)
    return f"_(plot {match['title']}: in the job's artifacts, `{out_dir}/`)_"


def report_markdown(out_dir: Path, gitlab: GitLab | None) -> str:
    """The CI report (`python -m mlops_template.review.report`, metrics and params diff against the
    commit being retrained). Its PNG plots are uploaded to the project (GitLab's uploads) when
    `gitlab` is given; otherwise they stay in `out_dir`, an artifact."""
    md = out_dir / "report.md"
    done = commands.run(
        [
            sys.executable,
            "-m",
            "mlops_template.review.report",
            "--target-ref",
            "HEAD",
            "--out",
            str(md),
        ],
        check=False,
    )
    if done.returncode != 0 or not md.is_file():
        log.warning("mlops_template.review.report failed; the MR carries the summary above only")
        return ""
    lines = []
    for line in md.read_text().splitlines():
        match = IMAGE.fullmatch(line.strip())
        if match:
            line = _image(match, out_dir, gitlab)
        lines.append(line)
    return "\n".join(lines)


def publish(settings: Settings, gitlab: GitLab, files: list[str], title: str, text: str) -> str:
    """Commit `files` on a new branch, push data and branch, open the MR; return its URL."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    branch = f"retrain/{stamp}-{settings.pipeline_id or 'local'}"
    ident = ["-c", f"user.name={settings.git_name}", "-c", f"user.email={settings.git_email}"]
    commands.run(["git", "checkout", "-B", branch])
    commands.run(["git", "add", "--", *files])
    commands.run(["git", *ident, "commit", "-m", title, "-m", "Opened by the retrain job."])
    commands.run(["dvc", "push"], timeout=commands.remote_timeout())
    # The token goes in an environment-provided git config entry: never in argv or a URL.
    commands.run(
        ["git", "push", settings.push_url, f"HEAD:refs/heads/{branch}"],
        timeout=commands.remote_timeout(),
        env=hosts.git_auth_env(settings.token),
        secret=settings.token,
    )
    mr = gitlab.create_merge_request(branch, settings.target_branch, title, text, settings.label)
    return str(mr.get("web_url", ""))


def retrain(settings: Settings, reason: Reason, workdir: Path) -> str:
    """Run the job; return a one-line outcome."""
    if reason.alerts and not reason.firing:
        return "skipped: the alerts in TRIGGER_PAYLOAD are resolved"
    settings.check()
    gitlab = GitLab(settings.api_url, settings.project_id, settings.token)
    if settings.push:
        busy = already_running(gitlab, settings)
        if busy:
            return f"skipped: {busy}"
    data_note = commands.update_data(settings.data_update)
    production_md = ""
    if settings.data_update == "feedback":
        production_md = commands.feedback_rows(settings.capture_url)
        data_note += "; labelled production rows from the capture (below)"
    commands.reproduce()
    params = config.load()
    result = against_prod(card.MODEL_NAME, "prod", workdir)
    passed, verdict = gate(result, workdir)
    imports = [str(p) for p in commands.imported_sources()]
    changed = commands.changed(TRACKED + imports)
    if not any(f == "dvc.lock" or f.endswith(".dvc") for f in changed):
        return f"no change: data and model are as committed ({verdict})"
    version = card.read(paths.MODEL_CARD).version
    title = describe.title(reason, version)
    text = describe.description(
        reason,
        result,
        metric=params.gate.metric,
        gate=verdict,
        data_note=data_note,
        changed=changed,
        drift_md=drift_markdown(result),
        production_md=production_md,
        report_md=report_markdown(
            settings.report_dir, gitlab if settings.push and passed else None
        ),
        pipeline_url=settings.pipeline_url,
    )
    io.write_bytes(settings.output, text.encode())
    log.info("merge request description -> %s", settings.output)
    if not passed:
        raise StageError(f"retrain: the retrained model fails the quality gate: {verdict}")
    if not settings.push:
        return f"dry run (RETRAIN_PUSH=0): would open '{title}'; description in {settings.output}"
    url = publish(settings, gitlab, changed, title, text)
    return f"opened merge request {url}"


def main() -> None:
    settings = Settings.from_env(dict(os.environ))
    os.environ.pop("GITLAB_TOKEN", None)  # dvc, gto and the stages don't inherit it
    reason = load(settings.payload, settings.source)
    log.info("retrain: %s", reason.headline())
    with tempfile.TemporaryDirectory(prefix="retrain-") as tmp:
        outcome = retrain(settings, reason, Path(tmp))
    log.info("retrain: %s", outcome)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        main()
    except (
        StageError,
        ConfigError,
        PayloadError,
        GitLabError,
        commands.CommandError,
        OSError,
    ) as exc:
        logging.getLogger(__name__).error("error: %s", exc)
        raise SystemExit(1) from None
    except subprocess.SubprocessError as exc:
        logging.getLogger(__name__).error("error: %s", exc)
        raise SystemExit(1) from None
