"""Child-process entry point of the harness: `python -m kernelbench.child WORKDIR`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from kernelbench.harness import run_step


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m kernelbench.child WORKDIR\n")
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return run_step(Path(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
