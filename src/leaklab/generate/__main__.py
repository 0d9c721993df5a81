"""`python -m leaklab.generate [--check] [--root DIR]`: what `make generate` runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leaklab.generate import render, write
from leaklab.paths import REPO


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m leaklab.generate",
        description="Rewrite the files built from the scenario registry (make generate).",
    )
    parser.add_argument(
        "--root", type=Path, default=REPO, help="write under DIR (default: the repo)"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is out of date"
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    if args.check:
        stale = [
            p
            for p, text in render().items()
            if not (root / p).is_file() or (root / p).read_text() != text
        ]
        for path in stale:
            print(f"out of date: {path} (run make generate)", file=sys.stderr)
        return 1 if stale else 0
    for path in write(root):
        print(f"wrote {path.relative_to(root) if path.is_relative_to(root) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
