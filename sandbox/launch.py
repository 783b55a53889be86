"""Entry point of a cold, wrapped step: `python -m sandbox.launch LIMITS_JSON MODULE WORKDIR`.

Used by the `local` backend when it cannot fork steps from a zygote (no root, so no
namespaces of its own): the step runs under bubblewrap (or as a plain process) and this
launcher applies the per-process limits before any problem or candidate code is imported.
"""

from __future__ import annotations

import json
import random
import sys

from sandbox import isolation
from sandbox.entry import runpy_main


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        sys.stderr.write("usage: python -m sandbox.launch LIMITS_JSON MODULE WORKDIR\n")
        return 2
    limits = json.loads(argv[1])
    isolation.apply_rlimits(
        limits["cpu_s"],
        limits["memory_mb"],
        limits["pids"],
        limit_address_space=not limits["memory_cgroup"],
        limit_nproc=not limits["pids_cgroup"],
    )
    random.seed()
    module = argv[2]
    return int(runpy_main(module, argv[3]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
