"""Render alertmanager.yml.tmpl into a config Alertmanager can read.

Fills ${GITLAB_URL}, ${PROJECT_ID}, ${REF} and ${TRIGGER_TOKEN} from the environment
(TRIGGER_TOKEN_FILE=path reads the token from a mounted secret instead). Values are
URL-quoted where they land in a path or query; a missing one is an error naming it.
Standard library only, so it runs in any python image (docker-compose uses it as an init step).

    python monitoring/alertmanager/render.py -o alertmanager.yml
"""

from __future__ import annotations

import argparse
import os
import string
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

TEMPLATE = Path(__file__).with_name("alertmanager.yml.tmpl")
REQUIRED = ("GITLAB_URL", "PROJECT_ID", "REF", "TRIGGER_TOKEN")


class RenderError(ValueError):
    """A variable the template needs is missing or invalid."""


def values(env: Mapping[str, str]) -> dict[str, str]:
    """The template's variables from `env`, checked and URL-quoted."""
    env = dict(env)
    token_file = env.get("TRIGGER_TOKEN_FILE")
    if token_file and not env.get("TRIGGER_TOKEN"):
        env["TRIGGER_TOKEN"] = Path(token_file).read_text().strip()
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        raise RenderError(f"missing environment variable(s): {', '.join(missing)}")
    url = env["GITLAB_URL"].rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise RenderError(f"GITLAB_URL must start with http:// or https://, got {url!r}")
    return {
        "GITLAB_URL": url,
        "PROJECT_ID": quote(env["PROJECT_ID"], safe=""),
        "REF": quote(env["REF"], safe=""),
        "TRIGGER_TOKEN": quote(env["TRIGGER_TOKEN"], safe=""),
    }


def render(env: Mapping[str, str], template: Path = TEMPLATE) -> str:
    """The rendered config text."""
    return string.Template(template.read_text()).substitute(values(env))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, required=True, help="file to write")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument(
        "--owner",
        metavar="UID:GID",
        help="chown the output (e.g. 65534:65534, Alertmanager's user)",
    )
    args = parser.parse_args(argv)
    try:
        text = render(os.environ, args.template)
    except (RenderError, OSError) as exc:
        sys.stderr.write(f"render.py: {exc}\n")
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    args.output.chmod(0o600)  # it holds the token
    if args.owner:
        uid, _, gid = args.owner.partition(":")
        os.chown(args.output, int(uid), int(gid or uid))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
