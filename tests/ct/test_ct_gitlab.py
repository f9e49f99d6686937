"""The retrain job's GitLab API calls, against the recording stand-in (see conftest.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from tests.support.gitlab_standin import StandIn

from mlops_template.ct.gitlab import GitLab, GitLabError
from mlops_template.ct.retrain import Settings, already_running


def _settings(standin: StandIn, **env: str) -> Settings:
    base = {
        "CI": "true",
        "CI_API_V4_URL": standin.api_url,
        "CI_PROJECT_ID": "42",
        "CI_PIPELINE_ID": "500",
        "GITLAB_TOKEN": "glpat-secret",
        "RETRAIN_PUSH_URL": "/dev/null",
    }
    return Settings.from_env({**base, **env})


def test_open_merge_requests_filters_by_label_and_sends_the_token(gitlab_standin: StandIn) -> None:
    gitlab_standin.open_mrs = [{"iid": 3}]
    client = GitLab(gitlab_standin.api_url, "42", "glpat-secret")
    assert client.open_merge_requests("retrain") == [{"iid": 3}]
    (req,) = gitlab_standin.requests
    assert req.path == "/api/v4/projects/42/merge_requests"
    assert req.query == {"state": "opened", "labels": "retrain", "per_page": "100"}
    assert req.headers["private-token"] == "glpat-secret"
    assert "glpat-secret" not in req.path + str(req.query)


def test_create_merge_request_posts_json(gitlab_standin: StandIn) -> None:
    client = GitLab(gitlab_standin.api_url, "group/project", "t")
    mr = client.create_merge_request("retrain/x", "main", "Retrain", "why", "retrain")
    assert mr["web_url"].endswith("/-/merge_requests/1")
    (req,) = gitlab_standin.merge_requests()
    assert req.path == "/api/v4/projects/group%2Fproject/merge_requests"
    assert req.json() == {
        "source_branch": "retrain/x",
        "target_branch": "main",
        "title": "Retrain",
        "description": "why",
        "labels": "retrain",
        "remove_source_branch": True,
    }


def test_upload_sends_the_file_as_multipart_and_returns_markdown(gitlab_standin: StandIn) -> None:
    client = GitLab(gitlab_standin.api_url, "42", "t")
    png = b"\x89PNG\r\n\x1a\n fake image bytes"
    markdown = client.upload("roc.png", png)
    assert markdown.startswith("![roc.png](/uploads/") and markdown.endswith("/roc.png)")
    (req,) = gitlab_standin.uploads()
    assert req.path == "/api/v4/projects/42/uploads"
    assert req.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="roc.png"' in req.body and png in req.body


def test_http_errors_name_the_call_but_not_the_token(gitlab_standin: StandIn) -> None:
    client = GitLab(gitlab_standin.api_url, "42", "glpat-secret")
    with pytest.raises(GitLabError, match="HTTP 404") as info:
        client._request("GET", "/nothing")
    assert "glpat-secret" not in str(info.value)


def test_unreachable_gitlab_is_a_gitlab_error() -> None:
    with socket.socket() as s:  # a free port that nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GitLabError, match=f"POST http://127.0.0.1:{port}/"):
        GitLab(f"http://127.0.0.1:{port}/api/v4", "1", "t").create_merge_request(
            "a", "b", "c", "d", "e"
        )


def test_an_open_retrain_mr_or_an_older_running_retrain_stops_a_second_one(
    gitlab_standin: StandIn,
) -> None:
    settings = _settings(gitlab_standin)
    client = GitLab(settings.api_url, settings.project_id, settings.token)
    assert already_running(client, settings) == ""
    gitlab_standin.running = [{"id": 499}]
    assert "pipeline 499" in already_running(client, settings)
    gitlab_standin.running = [{"id": 501}]  # a newer one waits for us, not the other way
    assert already_running(client, settings) == ""
    gitlab_standin.open_mrs = [{"iid": 7}]
    assert "!7" in already_running(client, settings)


def test_push_mode_requires_the_token(gitlab_standin: StandIn, tmp_path: Path) -> None:
    settings = _settings(gitlab_standin, GITLAB_TOKEN="")
    with pytest.raises(ValueError, match="GITLAB_TOKEN not set"):
        settings.check()
    assert not _settings(gitlab_standin, CI="false").push
