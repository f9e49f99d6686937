"""The retrain job's settings, from environment variables (GitLab's predefined CI variables
plus RETRAIN_*; docs/continuous-training.md lists them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops_template.core.errors import StageError
from mlops_template.ct import hosts


@dataclass(frozen=True)
class Settings:
    source: str
    payload: str
    push: bool
    api_url: str
    project_id: str
    token: str
    push_url: str
    target_branch: str
    label: str
    data_update: str
    capture_url: str
    pipeline_id: str
    pipeline_url: str
    output: Path
    report_dir: Path
    git_name: str
    git_email: str
    ci: bool = False  # CI=true: the token goes only to https URLs on hosts in ci/allowed-hosts
    insecure: tuple[str, ...] = ()  # variables that would turn TLS verification off

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Settings:
        server = env.get("CI_SERVER_URL", "")
        default_push = f"{server}/{env['CI_PROJECT_PATH']}.git" if "CI_PROJECT_PATH" in env else ""
        return cls(
            source=env.get("CI_PIPELINE_SOURCE", "manual"),
            payload=env.get("TRIGGER_PAYLOAD", ""),
            push=env.get("RETRAIN_PUSH", "1" if env.get("CI") == "true" else "0") == "1",
            api_url=env.get("CI_API_V4_URL", ""),
            project_id=env.get("CI_PROJECT_ID", ""),
            token=env.get("GITLAB_TOKEN", ""),
            push_url=env.get("RETRAIN_PUSH_URL", default_push),
            target_branch=env.get("CI_DEFAULT_BRANCH", "main"),
            label=env.get("RETRAIN_LABEL", "retrain"),
            data_update=env.get("RETRAIN_DATA_UPDATE", "auto"),
            capture_url=env.get("CAPTURE_URL", ""),
            pipeline_id=env.get("CI_PIPELINE_ID", ""),
            pipeline_url=env.get("CI_PIPELINE_URL", ""),
            output=Path(env.get("RETRAIN_OUTPUT", "retrain.md")),
            report_dir=Path(env.get("RETRAIN_REPORT_DIR", "retrain-report")),
            git_name=env.get("RETRAIN_GIT_NAME", "Retrain bot"),
            git_email=env.get("RETRAIN_GIT_EMAIL", "retrain-bot@users.noreply.gitlab.com"),
            ci=hosts.in_ci(env),
            insecure=hosts.insecure_variables(env),
        )

    def check(self) -> None:
        if not self.push:
            return
        missing = [
            name
            for name, value in (
                ("CI_API_V4_URL", self.api_url),
                ("CI_PROJECT_ID", self.project_id),
                ("GITLAB_TOKEN", self.token),
                ("RETRAIN_PUSH_URL or CI_PROJECT_PATH", self.push_url),
            )
            if not value
        ]
        if missing:
            raise StageError(
                f"retrain: {', '.join(missing)} not set; add GITLAB_TOKEN as a masked CI/CD "
                "variable (docs/continuous-training.md) or set RETRAIN_PUSH=0 for a dry run"
            )
        try:
            hosts.check(
                {"CI_API_V4_URL": self.api_url, "RETRAIN_PUSH_URL": self.push_url},
                ci=self.ci,
                insecure=self.insecure,
            )
        except hosts.HostError as exc:
            raise StageError(f"retrain: refused to send GITLAB_TOKEN: {exc}") from None
