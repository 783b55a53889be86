"""Child-process entry point of every evaluation step: `python -m kernelbench.runner.child WORKDIR`.

A workdir holding `runner.json` is the candidate step (the untrusted runner,
`kernelbench.runner`); otherwise `request.json` names a trusted step (reference, recheck,
profile). The profile step is routed before torch is imported: it only compiles, and
starting without torch saves seconds per profile.

Every torch step runs with `KWRIGHT_STEP_THREADS` intra-op threads (the host setting
`step_threads`, default 1, which the sandbox puts in the step's environment). Steps run
in parallel up to the core count (`--jobs`, a worker's concurrency, the test run), and
torch's default of one thread per core then oversubscribes the machine: OpenMP's spinning
threads made a 6-layer LSTM's forward at check sizes take 3 s instead of 2 ms.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from kernelbench.protocol.request import REQUEST_FILE, THREADS_VAR
from kernelbench.protocol.runner_files import REPLAY_REQUEST, RUNNER_REQUEST
from kernelbench.runner.profile_step import run_profile_step


def _step_name(workdir: Path) -> str | None:
    try:
        data = json.loads((workdir / REQUEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("step") if isinstance(data, dict) else None


def _limit_threads() -> None:
    import torch  # noqa: PLC0415 - heavy library, imported where used

    raw = os.environ.get(THREADS_VAR, "1")
    try:
        threads = max(1, int(raw))
    except ValueError:
        logging.getLogger(__name__).warning("%s=%r is not an integer; using 1", THREADS_VAR, raw)
        threads = 1
    torch.set_num_threads(threads)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m kernelbench.runner.child WORKDIR\n")
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    workdir = Path(argv[1])
    if (workdir / RUNNER_REQUEST).is_file():
        _limit_threads()
        from kernelbench.runner.candidate_step import run_candidate_step  # noqa: PLC0415 - heavy library, imported where used

        return run_candidate_step(workdir)
    if (workdir / REPLAY_REQUEST).is_file():
        _limit_threads()
        from kernelbench.runner.replay import run_replay_step  # noqa: PLC0415 - heavy library, imported where used

        return run_replay_step(workdir)
    if _step_name(workdir) == "profile":
        return run_profile_step(workdir)
    _limit_threads()
    from kernelbench.runner.reference_step import run_trusted_step  # noqa: PLC0415 - heavy library, imported where used

    return run_trusted_step(workdir)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
