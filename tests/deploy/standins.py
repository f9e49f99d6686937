"""Recording stand-ins for what the deploy job talks to and can't run here: the Kubernetes API
server (behind `kubectl`) and the container registry (behind `skopeo` / `crane`).

Each stand-in is a small executable put first on PATH. It appends one JSON line per call to
calls.jsonl (argv, and stdin where a secret is expected there), and answers like the real tool
would. Only the network boundary is replaced: `kubectl kustomize` runs the real kubectl, the
manifests handed to `kubectl apply -f` are kept for the test to read, and the git/GTO side of
the deploy runs for real.

    stand = StandIns(tmp_path, digests={"registry.example.com/g/p:<sha>": "sha256:..."})
    stand.rollout_status = [1, 0]   # the first `rollout status` fails, the next succeeds
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = r"""#!{python}
import json, os, shutil, subprocess, sys
state = {state!r}
tool = os.path.basename(sys.argv[0])
argv = sys.argv[1:]
call = {{"tool": tool, "argv": argv}}
config = json.load(open(os.path.join(state, "config.json")))

def record(**extra):
    call.update(extra)
    with open(os.path.join(state, "calls.jsonl"), "a") as log:
        log.write(json.dumps(call) + "\n")

def counter(name):
    path = os.path.join(state, name + ".count")
    n = int(open(path).read()) if os.path.exists(path) else 0
    open(path, "w").write(str(n + 1))
    return n

if tool == "kubectl":
    args = list(argv)
    if "--context" in args:
        i = args.index("--context"); call["context"] = args[i + 1]; del args[i:i + 2]
    if args and args[0] == "kustomize":
        record()
        os.execv(config["real_kubectl"], [config["real_kubectl"], *args])
    if args[:2] == ["apply", "-f"]:
        n = counter("apply")
        kept = os.path.join(state, f"applied-{{n}}.yaml")
        shutil.copy(args[2], kept)
        record(applied=kept)
        print("deployment.apps/api configured")
        sys.exit(0)
    verb = args[2:4] if args[:1] == ["-n"] else args[:2]
    if verb == ["rollout", "status"]:
        codes = config["rollout_status"]
        n = counter("status")
        code = codes[n] if n < len(codes) else 0
        record(exit=code)
        if code:
            print('error: deployment "api" exceeded its progress deadline', file=sys.stderr)
        else:
            print('deployment "api" successfully rolled out')
        sys.exit(code)
    if verb == ["rollout", "undo"]:
        code = config["rollout_undo"]
        record(exit=code)
        if code:
            print('error: no rollout history found for deployment "api"', file=sys.stderr)
        else:
            print("deployment.apps/api rolled back")
        sys.exit(code)
    record(exit=2)
    print(f"kubectl stand-in: unexpected call {{argv}}", file=sys.stderr)
    sys.exit(2)

if tool in ("skopeo", "crane"):
    if "--password-stdin" in argv:
        record(stdin=sys.stdin.read())
        sys.exit(0)
    ref = argv[-1].removeprefix("docker://")
    digest = config["digests"].get(ref)
    record(ref=ref)
    if digest is None:
        print(f"manifest unknown: {{ref}}", file=sys.stderr)
        sys.exit(1)
    print(digest)
    sys.exit(0)

if tool == "curl":
    stdin = sys.stdin.read() if "--config" in argv and "-" in argv else None
    record(stdin=stdin)
    real = subprocess.run([config["real_curl"], *argv], input=stdin, text=True)
    sys.exit(real.returncode)
"""


@dataclass
class StandIns:
    """The stand-ins' folder (put `bin` first on PATH) and what they were told and saw."""

    root: Path
    digests: dict[str, str] = field(default_factory=dict)
    rollout_status: list[int] = field(default_factory=list)
    rollout_undo: int = 0
    tools: tuple[str, ...] = ("kubectl", "skopeo", "curl")
    real_kubectl: str = ""
    real_curl: str = "/usr/bin/curl"

    def __post_init__(self) -> None:
        self.bin.mkdir(parents=True, exist_ok=True)
        script = SCRIPT.format(python=sys.executable, state=str(self.root))
        for tool in self.tools:
            path = self.bin / tool
            path.write_text(script)
            path.chmod(0o755)

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def write_config(self) -> None:
        (self.root / "config.json").write_text(
            json.dumps(
                {
                    "digests": self.digests,
                    "rollout_status": self.rollout_status,
                    "rollout_undo": self.rollout_undo,
                    "real_kubectl": self.real_kubectl,
                    "real_curl": self.real_curl,
                }
            )
        )

    def path(self, rest: str) -> str:
        return f"{self.bin}{os.pathsep}{rest}"

    def calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        log = self.root / "calls.jsonl"
        if not log.exists():
            return []
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        return [c for c in calls if tool is None or c["tool"] == tool]

    def kubectl_verbs(self) -> list[str]:
        """The kubectl calls as short strings, e.g. 'rollout status deployment/api'."""
        verbs = []
        for call in self.calls("kubectl"):
            args = [a for a in call["argv"] if not a.startswith("--timeout")]
            if "--context" in args:
                i = args.index("--context")
                del args[i : i + 2]
            if args[:1] == ["-n"]:
                args = args[2:]
            verbs.append(" ".join(args[:3]) if args[0] == "rollout" else args[0])
        return verbs
