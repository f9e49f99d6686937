"""Where a CI job may send a GitLab token: https URLs on a host listed in `ci/allowed-hosts`.

The retrain job takes its API and push URLs from variables (CI_API_V4_URL, RETRAIN_PUSH_URL), and
the register job its push URL from CI_SERVER_* or GIT_PUSH_URL. Whoever can start a pipeline with
variables can set those, and CI_SERVER_HOST too, so the allowed host comes from a file in the
repository instead: a pipeline runs the file of the commit it builds, and the protected token
is only handed to pipelines of protected refs, whose commits went through review.

In CI (CI=true or GITLAB_CI=true) every URL that gets the token must be `https://<allowed host>`
(no user info, no query); outside CI nothing is checked, so local dry runs and stand-ins on
127.0.0.1 keep working. `python -m mlops_template.ct.hosts NAME=URL ...` runs the same check
for the shell scripts (exit 1 with the reason, exit 0 when allowed).

Tokens also travel only in headers: `git_auth_env` gives git the Authorization header through
its environment (never argv or a URL) with redirects and traces off, and `no_redirects` is a
urllib opener that doesn't resend the PRIVATE-TOKEN header to wherever a redirect points.
"""

from __future__ import annotations

import base64
import os
import re
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from email.message import Message
from pathlib import Path
from typing import IO, NoReturn

ALLOWED_FILE = Path("ci/allowed-hosts")
# https only; a host name (no IP literal in brackets), an optional port, a plain path.
URL = re.compile(
    r"https://(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<path>/[A-Za-z0-9._~%+/-]*)?"
)
ENTRY = re.compile(r"(?P<host>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::(?P<port>[0-9]{1,5}))?")
# Set to anything, these make git skip TLS verification; pipeline variables could set them.
INSECURE = ("GIT_SSL_NO_VERIFY",)
# Removed from the environment of the git command that carries the token: traces (with
# GIT_TRACE_REDACT=0, GIT_TRACE_CURL prints the Authorization header; GIT_CURL_VERBOSE counts
# when merely set), TLS verification off, and `git -c` entries (a url.<x>.insteadOf reroutes).
UNSET_FOR_TOKEN = (
    "GIT_TRACE",
    "GIT_TRACE_CURL",
    "GIT_TRACE_CURL_NO_DATA",
    "GIT_TRACE_PACKET",
    "GIT_TRACE_PACKFILE",
    "GIT_TRACE_PERFORMANCE",
    "GIT_TRACE_SETUP",
    "GIT_TRACE_SHALLOW",
    "GIT_TRACE2",
    "GIT_TRACE2_EVENT",
    "GIT_TRACE2_PERF",
    "GIT_CURL_VERBOSE",
    "GIT_SSL_NO_VERIFY",
    "GIT_CONFIG_PARAMETERS",
)


class HostError(ValueError):
    """A URL that must not receive a token, or an unreadable allow-list; says which and why."""


def in_ci(env: Mapping[str, str]) -> bool:
    """GitLab sets both; gitlab-ci-local sets CI=true only."""
    return env.get("CI") == "true" or env.get("GITLAB_CI") == "true"


def read_allowed(path: Path = ALLOWED_FILE) -> frozenset[str]:
    """The `host` or `host:port` entries of the allow-list (one per line, `#` comments)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise HostError(f"{path}: cannot read the allowed hosts ({exc.strerror})") from None
    allowed = set()
    for number, line in enumerate(lines, start=1):
        entry = line.split("#", 1)[0].strip().lower()
        if not entry:
            continue
        match = ENTRY.fullmatch(entry)
        if match is None:
            raise HostError(
                f"{path}:{number}: {entry!r} is not a host name or host:port "
                "(no scheme, path or wildcard)"
            )
        allowed.add(origin(match["host"], match["port"]))
    if not allowed:
        raise HostError(f"{path}: lists no host; add your GitLab's, e.g. gitlab.com")
    return frozenset(allowed)


def origin(host: str, port: str | None) -> str:
    """`host` or `host:port`, lower-case, without https's default port."""
    host = host.lower()
    return host if port in (None, "443") else f"{host}:{int(port)}"


def check_url(name: str, url: str, allowed: frozenset[str]) -> None:
    """Raise HostError unless `url` is https on an allowed host, with nothing that could hide
    another host (user info, backslashes, IP literals, a query or a fragment)."""
    match = URL.fullmatch(url)
    if match is None:
        if not url.startswith("https://"):
            reason = "only https URLs may receive the token in CI"
        else:
            reason = "not a plain https://host[:port]/path URL"
        raise HostError(f"{name}={_shown(url)}: {reason}")
    host = origin(match["host"], match["port"])
    if host not in allowed:
        raise HostError(
            f"{name}={_shown(url)}: host {host} is not in {ALLOWED_FILE} "
            f"(allowed: {', '.join(sorted(allowed))}); pipeline variables cannot change that file"
        )


def insecure_variables(env: Mapping[str, str]) -> tuple[str, ...]:
    """The variables in `env` that would send the token over unverified TLS."""
    return tuple(name for name in INSECURE if name in env)


def check(
    urls: Mapping[str, str],
    *,
    ci: bool,
    insecure: Sequence[str] = (),
    path: Path = ALLOWED_FILE,
) -> None:
    """In CI, every URL in `urls` (variable name → URL) must be allowed and no variable may
    turn TLS verification off (`insecure`); outside CI nothing is checked."""
    if not ci:
        return
    if insecure:
        raise HostError(f"{', '.join(insecure)} set: the token would go over unverified TLS")
    allowed = read_allowed(path)
    for name, url in urls.items():
        check_url(name, url, allowed)


def git_auth_env(token: str, user: str = "oauth2") -> dict[str, str | None]:
    """Environment changes (None: remove) for one git command that authenticates over HTTP
    with `token`: the header as a config entry from the environment (not argv, not the URL),
    no redirects (the header would follow them), no traces, no inherited `git -c` entries."""
    basic = base64.b64encode(f"{user}:{token}".encode()).decode()
    changes: dict[str, str | None] = {name: None for name in UNSET_FOR_TOKEN}
    return {
        **changes,
        "GIT_TRACE_REDACT": "1",
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        "GIT_CONFIG_KEY_1": "http.followRedirects",
        "GIT_CONFIG_VALUE_1": "false",
    }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib copies every header, PRIVATE-TOKEN included, into the redirected request."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None  # the 3xx surfaces as an HTTPError instead


def no_redirects() -> urllib.request.OpenerDirector:
    """An opener for token-bearing requests that never follows a redirect."""
    return urllib.request.build_opener(_NoRedirect)


def _shown(url: str) -> str:
    """The URL for an error message, without user info (which may hold a token)."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest.split("/", 1)[0]:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"[:200]


def _fail(message: str) -> NoReturn:
    print(f"hosts: {message}", file=sys.stderr)
    raise SystemExit(1)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m mlops_template.ct.hosts NAME=URL ...` checks each URL like the retrain job."""
    args = list(sys.argv[1:] if argv is None else argv)
    pairs = [arg.partition("=") for arg in args]
    if not pairs or any(not sep for _, sep, _ in pairs):
        _fail("usage: python -m mlops_template.ct.hosts NAME=URL [NAME=URL ...]")
    try:
        check(
            {name: url for name, _, url in pairs},
            ci=in_ci(os.environ),
            insecure=insecure_variables(os.environ),
        )
    except HostError as exc:
        _fail(str(exc))


if __name__ == "__main__":
    main()
