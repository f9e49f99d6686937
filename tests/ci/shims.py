"""Recording shims: a folder of wrappers, first on PATH, that write every invocation's argv and
environment to a log and then run the real program (or, for calls that would leave this
machine, stop there: Google Drive can't be reached from a test). Tests search the log for
secrets: a token in any argument is visible to every user of the machine (`ps`), and a key in
a child's environment is readable by everything that child runs."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

SHIM = """#!/usr/bin/env bash
{{
  printf 'ARGV %s' {name}
  printf ' %s' "$@"
  printf '\\n'
  env | sed 's/^/ENV {name} /'
}} >> "{log}"
case " $* " in
  {intercept}) echo "shim: {name} $1 not run (network)" >&2; exit 0 ;;
esac
exec "{real}" "$@"
"""


@dataclass(frozen=True)
class Shims:
    bin: Path
    log: Path

    def path(self, base: str | None = None) -> str:
        """PATH with the shims first."""
        return f"{self.bin}{os.pathsep}{base if base is not None else os.environ['PATH']}"

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def argv(self) -> list[str]:
        """One line per recorded invocation: `ARGV <program> <args...>`."""
        return [line for line in self.text().splitlines() if line.startswith("ARGV ")]

    def environment(self) -> str:
        return "\n".join(line for line in self.text().splitlines() if not line.startswith("ARGV "))


def make_shims(folder: Path, programs: dict[str, str], search: str | None = None) -> Shims:
    """`programs`: name → shell `case` pattern of calls not to run ("" runs every call), e.g.
    {"git": "", "dvc": "*' pull '*|*' push '*"}. The real program is found on `search`
    (default: PATH) before the shims go first."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "calls.log"
    for name, intercept in programs.items():
        real = shutil.which(name, path=search)
        assert real is not None, f"{name} is not installed"
        script = folder / name
        script.write_text(
            SHIM.format(name=name, log=log, real=real, intercept=intercept or "'\\0never'")
        )
        script.chmod(0o755)
    return Shims(folder, log)
