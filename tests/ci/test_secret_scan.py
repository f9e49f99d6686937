"""The secret scanner of `make secrets` (and the secret-detection job): detect-secrets over every
tracked file against the committed baseline (.secrets.baseline), which allows nothing: fake
values in tests carry an inline `pragma: allowlist secret`, and only files DVC rewrites with
hashes on every training (reports/) and one header name are filtered out."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path

from tests.support.shell import ROOT, sh, VENV

HOOK = [str(VENV / "bin" / "detect-secrets-hook"), "--baseline", ".secrets.baseline"]


def scan(repo: Path) -> subprocess.CompletedProcess[str]:
    listed = sh("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=repo)
    files = [name for name in listed.split("\0") if name]
    return subprocess.run(
        [*HOOK, *files], cwd=repo, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_tree_has_no_secret_beyond_the_baseline() -> None:
    done = scan(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_baseline_allows_nothing_and_filters_little() -> None:
    baseline = json.loads((ROOT / ".secrets.baseline").read_text())
    assert baseline["results"] == {}
    filters = {f["path"].rsplit(".", 1)[-1]: f.get("pattern") for f in baseline["filters_used"]}
    assert filters["should_exclude_file"] == ["^reports/"]
    header_line = '^API_KEY_HEADER = "X-API-Key"$'  # pragma: allowlist secret (a header name)
    assert filters["should_exclude_line"] == [header_line]
    plugins = {p["name"] for p in baseline["plugins_used"]}
    assert {"GitLabTokenDetector", "PrivateKeyDetector", "KeywordDetector"} <= plugins


def test_a_committed_token_or_key_fails_the_scan_without_being_printed(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / ".secrets.baseline", repo)
    token = "glpat-" + secrets.token_urlsafe(15)[:20]
    (repo / "deploy.env").write_text(f"GITLAB_TOKEN={token}\n")
    (repo / "key.pem").write_text("-----BEGIN " + "RSA PRIVATE KEY-----\nMIIE\n")
    (repo / "reports").mkdir()  # filtered: DVC's hashes
    digest = secrets.token_hex(32)
    (repo / "reports" / "info.json").write_text(f'{{"sha256": "{digest}"}}\n')
    sh("git", "init", "-q", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    done = scan(repo)
    assert done.returncode != 0
    assert "GitLab Token" in done.stdout and "Location:    deploy.env:1" in done.stdout
    assert "Private Key" in done.stdout and "key.pem:1" in done.stdout
    assert "reports/" not in done.stdout
    assert token not in done.stdout + done.stderr
