"""Child-process entry point of the harness: `python -m kernelbench.child WORKDIR`.

The profile step is routed before the harness (and torch) is imported: it only compiles,
and starting without torch saves seconds per profile.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from kernelbench.request import REQUEST_FILE


def _step_name(workdir: Path) -> str | None:
    try:
        data = json.loads((workdir / REQUEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("step") if isinstance(data, dict) else None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m kernelbench.child WORKDIR\n")
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    workdir = Path(argv[1])
    if _step_name(workdir) == "profile":
        from kernelbench.profile_step import run_profile_step

        return run_profile_step(workdir)
    from kernelbench.harness import run_step

    return run_step(workdir)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
