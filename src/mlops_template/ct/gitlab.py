"""The few GitLab REST API calls the retrain job makes, with urllib (no extra dependency).

The base URL is CI_API_V4_URL (set by GitLab in every job), so a local stand-in server can
take GitLab's place in tests. The token comes from a masked CI/CD variable and is sent in
the PRIVATE-TOKEN header only; it never appears in a URL, a log line or an error message, and
no redirect carries it elsewhere (hosts.no_redirects).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

from mlops_template.ct import hosts

log = logging.getLogger(__name__)
TIMEOUT = 30.0


class GitLabError(RuntimeError):
    """GitLab answered with an error, or could not be reached."""


@dataclass(frozen=True)
class GitLab:
    api_url: str  # e.g. https://gitlab.com/api/v4
    project_id: str  # numeric id or URL-encoded path
    token: str

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        raw: tuple[bytes, str] | None = None,
    ) -> Any:
        """`raw`: (body bytes, content type) for non-JSON bodies such as file uploads."""
        project = urllib.parse.quote(self.project_id, safe="")
        url = f"{self.api_url.rstrip('/')}/projects/{project}{path}"
        data, content_type = raw if raw is not None else (None, "")
        if body is not None:
            data, content_type = json.dumps(body).encode(), "application/json"
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("PRIVATE-TOKEN", self.token)
        request.add_header("Accept", "application/json")
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with hosts.no_redirects().open(request, timeout=TIMEOUT) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise GitLabError(f"{method} {url.split('?')[0]}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, TimeoutError) as exc:
            raise GitLabError(f"{method} {url.split('?')[0]}: {exc}") from None
        return json.loads(text) if text.strip() else None

    def open_merge_requests(self, label: str) -> list[dict[str, Any]]:
        """Open merge requests carrying `label`."""
        query = urllib.parse.urlencode({"state": "opened", "labels": label, "per_page": 100})
        result = self._request("GET", f"/merge_requests?{query}")
        return list(result or [])

    def running_pipelines(self, source: str) -> list[dict[str, Any]]:
        """Pipelines of `source` (trigger, schedule) that are running now."""
        query = urllib.parse.urlencode({"status": "running", "source": source, "per_page": 100})
        return list(self._request("GET", f"/pipelines?{query}") or [])

    def upload(self, name: str, content: bytes) -> str:
        """Store a file in the project's uploads (GitLab itself, no third-party host); return
        the Markdown that shows it, e.g. `![roc.png](/uploads/<secret>/roc.png)`."""
        boundary = "----retrain-" + uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        data = head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
        result = self._request(
            "POST", "/uploads", raw=(data, f"multipart/form-data; boundary={boundary}")
        )
        return str(result["markdown"])

    def create_merge_request(
        self, source_branch: str, target_branch: str, title: str, description: str, label: str
    ) -> dict[str, Any]:
        body = {
            "source_branch": source_branch,
            "target_branch": target_branch,
            "title": title,
            "description": description,
            "labels": label,
            "remove_source_branch": True,
        }
        result: dict[str, Any] = self._request("POST", "/merge_requests", body)
        log.info("merge request !%s: %s", result.get("iid"), result.get("web_url"))
        return result
