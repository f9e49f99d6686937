"""`make monitor-rules`: the live-quality rules and their promtool tests, from params.yaml.

    python -m mlops_template.ct.monitor_rules           writes both files
    python -m mlops_template.ct.monitor_rules --check   exit 1 when one is stale

The rules are `quality_rules`, their tests `quality_rule_tests`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlops_template.core import config
from mlops_template.core.errors import ConfigError
from mlops_template.core.live_params import MonitorParams
from mlops_template.ct import quality_rule_tests
from mlops_template.ct.quality_rules import HEADER, OUT, TESTS, dump, render


def outputs(m: MonitorParams, root: Path = Path(".")) -> dict[Path, str]:
    """The rule file and its promtool tests, as `make monitor-rules` writes them."""
    tests = HEADER.format(window=m.window) + dump(quality_rule_tests.document(m))
    return {root / OUT: render(m), root / TESTS: tests}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    args = parser.parse_args(argv)
    try:
        files = outputs(config.load().monitor)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        stale = [p for p, text in files.items() if not p.is_file() or p.read_text() != text]
        for path in stale:
            print(f"stale: {path} (run `make monitor-rules`)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in files.items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
