"""The git, DVC and GTO commands the retrain job runs, each with a timeout and a clear error."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

log = logging.getLogger(__name__)
# Seconds for commands that talk to a remote (dvc pull/push/update/get, git push): DVC_TIMEOUT,
# the variable .gitlab-ci.yml gives every job (tests check the defaults agree), or this.
DEFAULT_REMOTE_TIMEOUT = 600.0


class CommandError(RuntimeError):
    """A command the job depends on failed; the message names it and quotes its output."""


def run(
    args: Sequence[str],
    *,
    timeout: float | None = None,
    env: Mapping[str, str | None] | None = None,
    check: bool = True,
    secret: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run `args`, log it, return the result; raise CommandError on failure when `check`.
    `env` adds variables to this process's environment (None removes one)."""
    log.info("$ %s", " ".join(args))
    try:
        result = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_environment(env) if env else None,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CommandError(f"`{' '.join(args)}` timed out after {timeout:.0f} s") from None
    except FileNotFoundError as exc:
        raise CommandError(f"`{args[0]}` is not installed ({exc})") from None
    output = (result.stdout + result.stderr).strip()
    if secret:
        output = output.replace(secret, "[MASKED]")
    if output:
        log.info("%s", output[-4000:])
    if check and result.returncode != 0:
        raise CommandError(f"`{' '.join(args)}` failed (exit {result.returncode}): {output[-800:]}")
    return result


def _environment(changes: Mapping[str, str | None]) -> dict[str, str]:
    merged: dict[str, str | None] = {**os.environ, **changes}
    return {name: value for name, value in merged.items() if value is not None}


def remote_timeout() -> float:
    """DVC_TIMEOUT from the environment, else DEFAULT_REMOTE_TIMEOUT."""
    value = os.environ.get("DVC_TIMEOUT", "").strip()
    try:
        return float(value) if value else DEFAULT_REMOTE_TIMEOUT
    except ValueError:
        raise CommandError(f"DVC_TIMEOUT={value!r} is not a number of seconds") from None


def imported_sources(root: Path = Path(".")) -> list[Path]:
    """`.dvc` files with dependencies: data brought in by `dvc import` or `dvc import-url`."""
    found = []
    for path in sorted(root.rglob("*.dvc")):
        if ".dvc" in path.parts[:-1] or ".git" in path.parts:
            continue
        try:
            meta = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(meta, dict) and meta.get("deps"):
            found.append(path)
    return found


def update_data(mode: str) -> str:
    """Bring the data up to date; return what was done (for the MR description).

    mode: auto — `dvc update` every imported source if there are any, else `dvc pull`;
    update / pull — only that; none — use the data as checked out; feedback — as auto, then
    the labelled production rows (see `feedback_rows`, run by the retrain job).
    """
    if mode == "feedback":
        mode = "auto"
    imports = imported_sources()
    if mode == "auto":
        mode = "update" if imports else "pull"
    if mode == "update":
        if not imports:
            return "no imported data sources (`dvc import`/`dvc import-url`) to update"
        run(["dvc", "update", *map(str, imports)], timeout=remote_timeout())
        return "`dvc update " + " ".join(map(str, imports)) + "`"
    if mode == "pull":
        result = run(["dvc", "pull"], timeout=remote_timeout(), check=False)
        if result.returncode != 0:
            # First run on an empty remote: the stages rebuild what is missing.
            log.warning("dvc pull failed (exit %d); dvc repro rebuilds", result.returncode)
            return "`dvc pull` (failed; stages rebuilt from their sources)"
        return "`dvc pull` (latest data version in the remote)"
    if mode == "none":
        return "data as checked out (no update)"
    raise CommandError(f"RETRAIN_DATA_UPDATE={mode!r}: use auto, update, pull, none or feedback")


def feedback_rows(capture_url: str) -> str:
    """The labelled production rows from the capture at `capture_url`, tracked with DVC;
    return the Markdown that says what came in (mlops_template.ct.feedback_data)."""
    from mlops_template.core import paths
    from mlops_template.ct import feedback_data

    if not capture_url:
        raise CommandError(
            "RETRAIN_DATA_UPDATE=feedback needs CAPTURE_URL (where the API captures)"
        )
    summary = feedback_data.build(capture_url)
    run(["dvc", "add", str(paths.FEEDBACK_TABLE)])
    return feedback_data.describe(summary)


def reproduce() -> None:
    """`dvc repro`, with the load stage forced: its source file may have changed under it
    (a path in params.yaml is not a DVC dependency). If the table is unchanged, the later
    stages' dependencies are too, and DVC skips them."""
    run(["dvc", "repro", "--force", "--single-item", "load"])
    run(["dvc", "repro"])


def changed(paths: Sequence[str]) -> list[str]:
    """Files among `paths` that differ from HEAD (modified or new)."""
    result = run(["git", "status", "--porcelain", "--", *paths])
    return [line[3:] for line in result.stdout.splitlines() if line.strip()]


def git_output(*args: str) -> str:
    return run(["git", *args]).stdout.strip()


def prod_ref(model: str, stage: str) -> str | None:
    """The git tag of the model version assigned to `stage` (`gto show model#prod --ref`)."""
    result = run(["gto", "show", f"{model}#{stage}", "--ref"], check=False)
    ref = result.stdout.strip().splitlines()[-1].strip() if result.stdout.strip() else ""
    if result.returncode != 0 or not ref:
        return None
    return ref
