"""PID 1 of a `docker` step: `python -m sandbox.container_entry TIMEOUT_S OUTPUT_BYTES MODULE WORKDIR`.

Runs the job's step program (`python -m MODULE WORKDIR`) as its child, drains and
caps the child's stdout/stderr, enforces the wall-clock limit, and prints one result
line (RESULT_MARK + JSON) on its own stdout, which is all the container logs hold. It
imports no torch. It makes itself non-dumpable first, so that step processes (same uid)
can neither ptrace it nor reach its stdout through /proc/1/fd; and as PID 1 it ignores
their signals. When it exits, the kernel kills whatever the step left in the container.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time

from sandbox.capture import CappedBuffer

RESULT_MARK = "KWRIGHT-STEP-RESULT "
PR_SET_DUMPABLE = 4


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        sys.stderr.write(
            "usage: python -m sandbox.container_entry TIMEOUT_S OUTPUT_BYTES MODULE WORKDIR\n"
        )
        return 2
    timeout_s, limit, module, workdir = float(argv[1]), int(argv[2]), argv[3], argv[4]
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, workdir],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=workdir,
        start_new_session=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    buffers = {proc.stdout.fileno(): CappedBuffer(limit), proc.stderr.fileno(): CappedBuffer(limit)}
    out_buf, err_buf = buffers[proc.stdout.fileno()], buffers[proc.stderr.fileno()]
    open_fds = set(buffers)
    deadline = started + timeout_s
    timed_out = False
    exited_at: float | None = None
    while True:
        now = time.monotonic()
        if proc.poll() is not None:
            exited_at = exited_at or now
            if not open_fds or now > exited_at + 2.0:
                break  # done, or a leftover process holds the pipes (it dies with us)
        elif now > deadline:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            break
        if not open_fds:
            time.sleep(0.02)
            continue
        ready, _, _ = select.select(list(open_fds), [], [], 0.5)
        for fd in ready:
            data = os.read(fd, 1 << 20)
            if data:
                buffers[fd].feed(data)
            else:
                open_fds.discard(fd)
    returncode = proc.poll()
    result = {
        "returncode": None if timed_out else returncode,
        "timed_out": timed_out,
        "duration_s": time.monotonic() - started,
        "stdout": out_buf.text(),
        "stderr": err_buf.text(),
        "truncated": out_buf.truncated or err_buf.truncated,
    }
    sys.stdout.write("\n" + RESULT_MARK + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
