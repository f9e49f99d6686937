"""ci/deploy.sh, the deploy job of a stage tag, with real git, GTO and kubectl kustomize.

What can't run here is replaced at the network boundary by recording stand-ins on PATH
(standins.py): the Kubernetes API server behind `kubectl` (apply, rollout status, rollout undo;
told to fail where a test needs it), the registry behind `skopeo`/`crane` (a digest per
`<repo>:<commit>`), and a local HTTP server for the webhook target. The stand-in `curl` records
its arguments and stdin, then runs the real curl against that server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.deploy.manifests import kubectl
from tests.deploy.standins import StandIns
from tests.support.shell import require_tool, ROOT

REPO = "registry.example.com/group/project"
DIGESTS = {"v0.0.1": "sha256:" + "1" * 64, "v0.0.2": "sha256:" + "2" * 64}
CONTEXT = "group/agents:production-agent"
SECRET = "glcbt-registry-password-not-real"  # pragma: allowlist secret
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@localhost",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@localhost",
}


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def gto(*args: str, cwd: Path) -> None:
    exe = shutil.which("gto", path=str(Path(sys.executable).parent)) or require_tool("gto")
    env = {**os.environ, **GIT_ENV}
    result = subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def stage_tag(project: Path, stage: str) -> str:
    """The (only) assignment tag of `stage`; GTO numbers them across stages."""
    (tag,) = git("tag", "--list", f"model#{stage}#*", cwd=project).split()
    return tag


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkout with two registered versions: v0.0.1 assigned to prod, v0.0.2 to staging.
    The deploy script and overlays are this checkout's, copied in (the job runs from one)."""
    repo = tmp_path_factory.mktemp("deploy-project")
    for name in ("dvc.yaml", "dvc.lock", "params.yaml"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "deploy", repo / "deploy")
    shutil.copytree(ROOT / "ci", repo / "ci")
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "first model", cwd=repo)
    gto("register", "model", "HEAD", cwd=repo)
    (repo / "params.yaml").write_text((repo / "params.yaml").read_text() + "# retrained\n")
    git("commit", "-qam", "second model", cwd=repo)
    gto("register", "model", "HEAD", "--bump-patch", cwd=repo)
    gto("assign", "model", "--version", "v0.0.1", "--stage", "prod", cwd=repo)
    gto("assign", "model", "--version", "v0.0.2", "--stage", "staging", cwd=repo)
    return repo


def commit_of(project: Path, version: str) -> str:
    return git("rev-parse", f"model@{version}^{{commit}}", cwd=project)


@pytest.fixture()
def stand(project: Path, tmp_path: Path) -> StandIns:
    digests = {f"{REPO}:{commit_of(project, v)}": d for v, d in DIGESTS.items()}
    return StandIns(tmp_path / "standins", digests=digests, real_kubectl=kubectl())


def deploy(
    project: Path, stand: StandIns, tag: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    stand.write_config()
    (project / "deploy.env").unlink(missing_ok=True)
    full = {
        **os.environ,
        "PATH": stand.path(f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"),
        "CI_REGISTRY_IMAGE": REPO,
        "CI_REGISTRY": "registry.example.com",
        "CI_REGISTRY_USER": "gitlab-ci-token",
        "CI_REGISTRY_PASSWORD": SECRET,
        "KUBE_CONTEXT": CONTEXT,
        "DEPLOY_TIMEOUT": "120",
        **(env or {}),
    }
    full.pop("KUBECONFIG", None)
    return subprocess.run(
        [str(project / "ci" / "deploy.sh"), tag],
        cwd=project,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def applied(stand: StandIns) -> list[dict[str, Any]]:
    (call,) = [c for c in stand.calls("kubectl") if "applied" in c]
    return [d for d in yaml.safe_load_all(Path(call["applied"]).read_text()) if d]


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


@pytest.mark.parametrize(
    ("stage", "version", "namespace", "environment"),
    [
        ("prod", "v0.0.1", "mlops-production", "production"),
        ("staging", "v0.0.2", "mlops-staging", "staging"),
    ],
)
def test_a_stage_tag_rolls_out_its_versions_image_by_digest(
    project: Path, stand: StandIns, stage: str, version: str, namespace: str, environment: str
) -> None:
    tag = stage_tag(project, stage)
    result = deploy(project, stand, tag)
    assert result.returncode == 0, result.stdout + result.stderr
    commit = commit_of(project, version)
    # The digest of the image the build job pushed for the version's commit.
    (inspect,) = [c for c in stand.calls("skopeo") if "ref" in c]
    assert inspect["ref"] == f"{REPO}:{commit}"
    docs = applied(stand)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (server,) = deployment["spec"]["template"]["spec"]["containers"]
    assert server["image"] == f"{REPO}@{DIGESTS[version]}"
    assert {d["metadata"]["namespace"] for d in docs} == {namespace}
    cause = deployment["metadata"]["annotations"]["kubernetes.io/change-cause"]
    assert tag in cause and version in cause and commit in cause
    # Everything else is the committed overlay, untouched.
    overlay = ROOT / "deploy" / "kubernetes" / "overlays" / environment
    committed = [
        d
        for d in yaml.safe_load_all(subprocess.check_output([kubectl(), "kustomize", overlay]))
        if d
    ]
    assert len(committed) == len(docs)
    # Through the agent's context: apply, then wait for the rollout. No undo.
    kube = [c for c in stand.calls("kubectl") if c["argv"][0] != "kustomize"]
    assert all(c.get("context") == CONTEXT for c in kube)
    assert stand.kubectl_verbs() == ["kustomize", "apply", "rollout status deployment/api"]
    status = kube[-1]["argv"]
    assert status[status.index("-n") + 1] == namespace and "--timeout=120s" in status
    assert read_env(project / "deploy.env") == {
        "DEPLOYED_IMAGE": f"{REPO}@{DIGESTS[version]}",
        "DEPLOYED_VERSION": version,
        "DEPLOYED_COMMIT": commit,
        "DEPLOY_ENVIRONMENT": environment,
    }


def test_a_failed_rollout_is_undone_and_fails_the_job(project: Path, stand: StandIns) -> None:
    stand.rollout_status = [1, 0]  # the new pods never get ready; the old ones come back
    result = deploy(project, stand, "model#prod#1")
    assert result.returncode != 0
    assert "rolled back to the previous revision" in result.stderr
    assert stand.kubectl_verbs() == [
        "kustomize",
        "apply",
        "rollout status deployment/api",
        "rollout undo deployment/api",
        "rollout status deployment/api",
    ]
    undo = [c for c in stand.calls("kubectl") if "undo" in c["argv"]][0]
    assert undo["argv"][undo["argv"].index("-n") + 1] == "mlops-production"
    assert not (project / "deploy.env").exists()


def test_a_failed_first_rollout_says_there_is_nothing_to_roll_back(
    project: Path, stand: StandIns
) -> None:
    stand.rollout_status = [1]
    stand.rollout_undo = 1
    result = deploy(project, stand, "model#prod#1")
    assert result.returncode != 0
    assert "nothing to roll back to" in result.stderr
    assert stand.kubectl_verbs()[-1] == "rollout undo deployment/api"


def test_an_image_missing_from_the_registry_stops_before_the_cluster(
    project: Path, stand: StandIns
) -> None:
    stand.digests = {}
    result = deploy(project, stand, "model#prod#1")
    assert result.returncode != 0
    assert "no image" in result.stderr and commit_of(project, "v0.0.1") in result.stderr
    assert stand.calls("kubectl") == []


def test_registry_credentials_go_on_stdin_never_on_a_command_line(
    project: Path, stand: StandIns
) -> None:
    assert deploy(project, stand, "model#prod#1").returncode == 0
    (login,) = [c for c in stand.calls("skopeo") if "login" in c["argv"]]
    assert login["stdin"] == SECRET
    for call in stand.calls():
        assert SECRET not in " ".join(call["argv"]), call


def test_crane_reads_the_digest_when_there_is_no_skopeo(project: Path, tmp_path: Path) -> None:
    digests = {f"{REPO}:{commit_of(project, 'v0.0.1')}": DIGESTS["v0.0.1"]}
    crane = StandIns(
        tmp_path / "crane", digests=digests, tools=("kubectl", "crane"), real_kubectl=kubectl()
    )
    path = [str(Path(sys.executable).parent), *os.environ["PATH"].split(os.pathsep)]
    no_skopeo = os.pathsep.join(p for p in path if not (Path(p) / "skopeo").exists())
    result = deploy(project, crane, "model#prod#1", env={"PATH": crane.path(no_skopeo)})
    assert result.returncode == 0, result.stderr
    assert [c["argv"][0] for c in crane.calls("crane")] == ["auth", "digest"]
    assert read_env(project / "deploy.env")["DEPLOYED_IMAGE"] == f"{REPO}@{DIGESTS['v0.0.1']}"


def test_refuses_a_version_tag_an_unknown_target_and_a_bad_repository(
    project: Path, stand: StandIns
) -> None:
    result = deploy(project, stand, "model@v0.0.1")
    assert result.returncode != 0 and "not a stage assignment" in result.stderr
    result = deploy(project, stand, "model#prod#99")
    assert result.returncode != 0 and "not a GTO tag" in result.stderr
    result = deploy(project, stand, "model#prod#1", env={"KUBE_CONTEXT": ""})
    assert result.returncode != 0 and "no target configured" in result.stderr
    result = deploy(project, stand, "model#prod#1", env={"CI_REGISTRY_IMAGE": 'x","evil":"1'})
    assert result.returncode != 0 and "is not an image repository" in result.stderr
    assert stand.calls("kubectl") == []


def test_dry_run_resolves_but_touches_nothing(project: Path, stand: StandIns) -> None:
    result = deploy(project, stand, "model#prod#1", env={"DEPLOY_DRY_RUN": "true"})
    assert result.returncode == 0, result.stderr
    assert f"{REPO}@{DIGESTS['v0.0.1']}" in result.stdout
    assert stand.calls("kubectl") == []


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append({"auth": self.headers["Authorization"], "body": json.loads(body)})
        self.send_response(202)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet."""


@pytest.fixture()
def webhook() -> Iterator[str]:
    Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/deploy"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_webhook_gets_the_digest_and_the_token_only_through_curls_stdin(
    project: Path, stand: StandIns, webhook: str
) -> None:
    stand.real_curl = require_tool("curl")
    token = 'hook"token\\with-quote'
    result = deploy(
        project,
        stand,
        "model#prod#1",
        env={"DEPLOY_WEBHOOK_URL": webhook, "DEPLOY_WEBHOOK_TOKEN": token, "KUBE_CONTEXT": ""},
    )
    assert result.returncode == 0, result.stderr
    assert Hook.received == [
        {
            "auth": f"Bearer {token}",
            "body": {
                "image": f"{REPO}@{DIGESTS['v0.0.1']}",
                "digest": DIGESTS["v0.0.1"],
                "version": "v0.0.1",
                "stage": "prod",
                "environment": "production",
                "tag": "model#prod#1",
                "commit": commit_of(project, "v0.0.1"),
            },
        }
    ]
    (curl,) = stand.calls("curl")
    assert token not in " ".join(curl["argv"]) and "hook" not in " ".join(curl["argv"])
    assert curl["stdin"] and "hook" in curl["stdin"]
    assert stand.calls("kubectl") == []
