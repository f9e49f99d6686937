"""Where a GitLab token may go (src/mlops_template/ct/hosts.py), tried the way an attacker who
can set pipeline variables would try it. The attacker's host is a recording server on
127.0.0.1 (recorder.py): it must never receive a credential."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from tests.ci.recorder import Answer, Request, Route, serve
from tests.support.shell import ROOT

from mlops_template.core.errors import StageError
from mlops_template.ct import hosts
from mlops_template.ct.gitlab import GitLab, GitLabError
from mlops_template.ct.settings import Settings

ALLOWED = frozenset({"gitlab.com", "gitlab.example.org:8443"})
TOKEN = "glpat-hosts-test-0123456789"  # pragma: allowlist secret (a fake)


def allowed_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "allowed-hosts"
    path.write_text(text)
    return path


def test_the_committed_allow_list_is_gitlab_com() -> None:
    assert hosts.read_allowed(ROOT / hosts.ALLOWED_FILE) == {"gitlab.com"}


def test_allow_list_entries_are_normalised(tmp_path: Path) -> None:
    text = "# comment\n\nGitLab.com  # trailing comment\nexample.org:443\ngit.example.org:8443\n"
    assert hosts.read_allowed(allowed_file(tmp_path, text)) == {
        "gitlab.com",
        "example.org",
        "git.example.org:8443",
    }


@pytest.mark.parametrize(
    "entry", ["https://gitlab.com", "gitlab.com/group", "*.gitlab.com", "user@gitlab.com"]
)
def test_allow_list_refuses_anything_but_host_and_port(tmp_path: Path, entry: str) -> None:
    path = allowed_file(tmp_path, f"gitlab.com\n{entry}\n")
    with pytest.raises(hosts.HostError, match=r"allowed-hosts:2: .* not a host name"):
        hosts.read_allowed(path)


def test_an_empty_or_missing_allow_list_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(hosts.HostError, match="lists no host"):
        hosts.read_allowed(allowed_file(tmp_path, "# nothing\n"))
    with pytest.raises(hosts.HostError, match="cannot read"):
        hosts.read_allowed(tmp_path / "missing")


@pytest.mark.parametrize(
    "url",
    [
        "https://gitlab.com/api/v4",
        "https://GitLab.com:443/group/project.git",
        "https://gitlab.example.org:8443/api/v4",
    ],
)
def test_https_urls_on_an_allowed_host_pass(url: str) -> None:
    hosts.check_url("URL", url, ALLOWED)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://gitlab.com/api/v4", "only https"),
        ("https://gitlab.com.evil.example/api/v4", "not in"),
        ("https://evil.example/gitlab.com/api/v4", "not in"),
        ("https://gitlab.example.org/api/v4", "not in"),  # allowed only on port 8443
        ("https://gitlab.com:8443/api/v4", "not in"),
        (f"https://oauth2:{TOKEN}@gitlab.com/g/p.git", "not a plain"),
        ("https://gitlab.com@evil.example/g/p.git", "not a plain"),
        ("https://evil.example\\@gitlab.com/g/p.git", "not a plain"),
        ("https://gitlab.com/api/v4?next=https://evil.example", "not a plain"),
        ("https://gitlab.com/api/v4#x", "not a plain"),
        ("https://[::1]/api/v4", "not a plain"),
        ("https://gitlab.com /api/v4", "not a plain"),
        ("git@gitlab.com:group/project.git", "only https"),
        ("ssh://git@gitlab.com/group/project.git", "only https"),
        ("/builds/group/project.git", "only https"),
        ("file:///tmp/project.git", "only https"),
        ("", "only https"),
    ],
)
def test_everything_else_is_refused_in_ci(url: str, reason: str) -> None:
    with pytest.raises(hosts.HostError, match=reason) as info:
        hosts.check_url("RETRAIN_PUSH_URL", url, ALLOWED)
    assert str(info.value).startswith("RETRAIN_PUSH_URL=")
    assert TOKEN not in str(info.value)


def test_the_check_applies_in_ci_only_and_refuses_unverified_tls(tmp_path: Path) -> None:
    path = allowed_file(tmp_path, "gitlab.com\n")
    evil = {"CI_API_V4_URL": "http://127.0.0.1:1/api/v4"}
    hosts.check(evil, ci=False, path=path)  # local runs and stand-ins keep working
    with pytest.raises(hosts.HostError, match="only https"):
        hosts.check(evil, ci=True, path=path)
    good = {"CI_API_V4_URL": "https://gitlab.com/api/v4"}
    hosts.check(good, ci=True, path=path)
    with pytest.raises(hosts.HostError, match="GIT_SSL_NO_VERIFY set"):
        hosts.check(good, ci=True, insecure=("GIT_SSL_NO_VERIFY",), path=path)


def test_ci_mode_survives_overriding_one_of_its_two_markers() -> None:
    assert hosts.in_ci({"CI": "true"}) and hosts.in_ci({"CI": "false", "GITLAB_CI": "true"})
    assert not hosts.in_ci({}) and not hosts.in_ci({"CI": "false", "GITLAB_CI": "false"})
    assert hosts.insecure_variables({"GIT_SSL_NO_VERIFY": ""}) == ("GIT_SSL_NO_VERIFY",)


def test_git_gets_the_token_as_a_header_from_its_environment_only() -> None:
    env = hosts.git_auth_env(TOKEN)
    header = env["GIT_CONFIG_VALUE_0"]
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader" and header.startswith("Authorization:")
    assert base64.b64decode(header.split()[-1]).decode() == f"oauth2:{TOKEN}"
    assert env["GIT_CONFIG_KEY_1"] == "http.followRedirects"
    assert env["GIT_CONFIG_VALUE_1"] == "false" and env["GIT_CONFIG_COUNT"] == "2"
    removed = {name for name, value in env.items() if value is None}
    assert {"GIT_TRACE_CURL", "GIT_CURL_VERBOSE", "GIT_SSL_NO_VERIFY"} <= removed
    assert "GIT_CONFIG_PARAMETERS" in removed and env["GIT_TRACE_REDACT"] == "1"
    assert not any(TOKEN in name for name in env)


def settings(**env: str) -> Settings:
    base = {
        "CI": "true",
        "CI_API_V4_URL": "https://gitlab.com/api/v4",
        "CI_SERVER_URL": "https://gitlab.com",
        "CI_PROJECT_PATH": "group/project",
        "CI_PROJECT_ID": "42",
        "GITLAB_TOKEN": TOKEN,
    }
    return Settings.from_env({**base, **env})


def test_retrain_settings_refuse_a_redirected_push_or_api_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)  # the allow-list is read from the checkout, like in a job
    settings().check()
    assert settings().push_url == "https://gitlab.com/group/project.git"
    for variable, url in [
        ("RETRAIN_PUSH_URL", "https://evil.example/group/project.git"),
        ("CI_API_V4_URL", "https://evil.example/api/v4"),
        ("CI_API_V4_URL", "http://gitlab.com/api/v4"),
    ]:
        with pytest.raises(StageError, match=f"refused to send GITLAB_TOKEN: {variable}="):
            settings(**{variable: url}).check()
    with pytest.raises(StageError, match="GIT_SSL_NO_VERIFY"):
        settings(GIT_SSL_NO_VERIFY="1").check()
    # Outside CI, and in any dry run, nothing is sent, so nothing is checked.
    settings(CI="false", RETRAIN_PUSH="1", CI_API_V4_URL="http://127.0.0.1:1/api/v4").check()
    settings(RETRAIN_PUSH="0", CI_API_V4_URL="https://evil.example/api/v4").check()


def redirect_to(target: str) -> Route:
    def route(request: Request) -> Answer:
        return Answer(302, b"", (("Location", f"{target}{request.path}"),))

    return route


def test_a_redirect_does_not_carry_the_token_to_another_host() -> None:
    """urllib copies every header into the redirected request: a 302 from the API host to
    another host would hand it PRIVATE-TOKEN. The GitLab client refuses to follow."""
    with serve() as evil, serve(redirect_to(evil.url)) as api:
        with pytest.raises(GitLabError, match="HTTP 302"):
            GitLab(f"{api.url}/api/v4", "42", TOKEN).open_merge_requests("retrain")
        assert evil.recorded() == []
        # What the client prevents: plain urllib follows and leaks the header.
        leaky = urllib.request.Request(f"{api.url}/api/v4/projects/42/merge_requests")
        leaky.add_header("PRIVATE-TOKEN", TOKEN)
        urllib.request.urlopen(leaky, timeout=5).close()
        assert evil.credentials() == [TOKEN]
