"""The local backend for real: namespaces, the warm pool, read-only paths, fallbacks.

(The hostile candidates are in tests/test_sandbox_conformance.py; these check what the
backend promises from the inside, and its lifecycle.)
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kernelbench.harness.evaluate import evaluate
from kernelbench.harness.steps import STEP_PROGRAM
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import ErrorKind, Status
from sandbox.base import SandboxUnavailable, get_sandbox
from sandbox.capture import CappedBuffer
from sandbox.local import LocalSandbox, bwrap_problem, namespaces_problem

RELU = resolve_problem("level1/2_ReLU")
QUICK = {"trials": 1, "extra_shapes": False, "static_check": False, "timeout_s": 60.0}
needs_namespaces = pytest.mark.skipif(
    namespaces_problem() is not None, reason=f"no namespaces here: {namespaces_problem()}"
)

CANDIDATE = """
import json, os, socket, sys
import torch, torch.nn as nn, triton, triton.language as tl

@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = o < n
    tl.store(y_ptr + o, tl.maximum(tl.load(x_ptr + o, mask=m, other=0.0), 0.0), mask=m)

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
    def forward(self, x):
        BODY
        y = torch.empty_like(x)
        relu_kernel[(triton.cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)
        return y
"""

FACTS = """facts = {
            "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
            "cap_eff": [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0],
            "no_new_privs": [l.split()[1] for l in open("/proc/self/status") if l.startswith("NoNewPrivs")][0],
            "hostname": socket.gethostname(),
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "env": sorted(os.environ),
            "root_listing": sorted(os.listdir("/root")),
            "cwd": os.getcwd(),
            "threads": torch.get_num_threads(),
        }
        for path in ("/etc/kw-probe", os.path.join(sys.prefix, "kw-probe")):
            try:
                open(path, "w").write("x")
                facts["wrote " + path] = True
            except OSError as exc:
                facts["wrote " + path] = exc.strerror
        raise RuntimeError("FACTS " + json.dumps(facts))"""


def candidate(body: str) -> str:
    return CANDIDATE.replace("BODY", body)


def facts_of(result) -> dict:
    line = next(ln for ln in result.messages.splitlines() if "FACTS {" in ln)
    return json.loads(line[line.index("FACTS ") + 6 :])


@pytest.fixture(scope="module")
def box():
    with LocalSandbox() as sandbox:
        yield sandbox


def test_capped_buffer_keeps_head_and_tail():
    buf = CappedBuffer(4096)
    buf.feed(b"HEAD" + b"x" * 100_000)
    buf.feed(b"y" * 50_000 + b"Traceback: the end")
    text = buf.text()
    assert buf.truncated and len(text) < 4200
    assert text.startswith("HEAD") and text.endswith("Traceback: the end")
    assert "bytes dropped" in text
    small = CappedBuffer(4096)
    small.feed(b"hello")
    assert small.text() == "hello" and not small.truncated


@needs_namespaces
def test_a_step_runs_unprivileged_in_its_own_namespaces(box, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-never-arrive")
    result = evaluate(RELU, candidate(FACTS), EvalOptions(**QUICK), box)
    assert result.status == Status.RUNTIME_ERROR, result.reason
    facts = facts_of(result)
    assert (facts["uid"], facts["gid"], facts["groups"]) == (65534, 65534, [])
    assert int(facts["cap_eff"], 16) == 0 and facts["no_new_privs"] == "1"
    assert facts["hostname"] == "kw-sandbox"
    # KWRIGHT_STEP_THREADS' default: steps in parallel never oversubscribe the cores
    assert facts["threads"] == 1
    assert max(facts["pids"]) < 10  # its own PID namespace: init, the step, nothing else
    assert "OPENAI_API_KEY" not in facts["env"] and "TRITON_INTERPRET" in facts["env"]
    assert facts["root_listing"] in ([], [".pyenv"])  # /root masked; the Python bound back
    assert facts["wrote /etc/kw-probe"] == "Read-only file system"
    assert not os.path.exists("/etc/kw-probe")
    assert all(v != True for k, v in facts.items() if k.startswith("wrote"))  # noqa: E712


SPAN = """import time
        began = time.time()
        time.sleep(4)
        raise RuntimeError(f"SPAN {began} {time.time()}")"""


def span_of(result) -> tuple[float, float]:
    found = re.search(r"SPAN ([0-9.]+) ([0-9.]+)", result.messages)
    assert found is not None, result.messages
    return float(found[1]), float(found[2])


@needs_namespaces
@pytest.mark.parametrize("parallel", [1, 2])
def test_steps_of_two_threads_run_at_once_only_where_parallel_is_allowed(parallel):
    """One zygote serves one step at a time: `problems --check --jobs 2` queued every other
    reference behind the one running (VGG19 waited out VGG16's 20 s) until the pool grew."""
    from concurrent.futures import ThreadPoolExecutor

    with LocalSandbox() as sandbox:
        sandbox.allow_parallel(parallel)
        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = [
                pool.submit(evaluate, RELU, candidate(SPAN), EvalOptions(**QUICK), sandbox)
                for _ in range(2)
            ]
            results = [r.result() for r in runs]
    assert all(r.status == Status.RUNTIME_ERROR for r in results), [r.reason for r in results]
    (a0, a1), (b0, b1) = sorted(span_of(r) for r in results)
    # Serial steps never overlap; parallel ones do, as long as the second starts within the
    # first's 4 s (a loaded CI machine delayed it by 1.4 s once, so no tighter margin).
    overlap = min(a1, b1) - max(a0, b0)
    assert (overlap > 0) == (parallel == 2), (overlap, (a0, a1), (b0, b1))


@pytest.mark.parametrize(("value", "threads"), [(None, 1), ("2", 2), ("many", 1), ("0", 1)])
def test_step_threads_follow_kwright_step_threads(value, threads):
    env = {k: v for k, v in os.environ.items() if k != "KWRIGHT_STEP_THREADS"}
    if value is not None:
        env["KWRIGHT_STEP_THREADS"] = value
    code = (
        "from kernelbench.runner.child import _limit_threads; _limit_threads(); "
        "import torch; print(torch.get_num_threads())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert int(out.stdout) == threads
    assert ("not an integer" in out.stderr) == (value == "many")


@needs_namespaces
def test_readonly_paths_can_be_read_but_never_written(box, tmp_path):
    cache = tmp_path / "compile-cache"  # under /tmp: masked unless mounted on purpose
    cache.mkdir()
    (cache / "entry.bin").write_text("cached kernel")
    body = f"""cache = {str(cache)!r}
        assert open(os.path.join(cache, "entry.bin")).read() == "cached kernel"
        for attempt in (lambda: open(os.path.join(cache, "entry.bin"), "w").write("poison"),
                        lambda: open(os.path.join(cache, "new.bin"), "w").write("poison"),
                        lambda: os.unlink(os.path.join(cache, "entry.bin"))):
            try:
                attempt()
            except OSError:
                continue
            raise RuntimeError("the read-only cache was writable")"""
    result = evaluate(RELU, candidate(body), EvalOptions(**QUICK), box, readonly_paths=[cache])
    assert result.status == Status.CORRECT, (result.reason, result.messages[-2000:])
    assert sorted(p.name for p in cache.iterdir()) == ["entry.bin"]
    assert (cache / "entry.bin").read_text() == "cached kernel"


@needs_namespaces
def test_warm_pool_survives_its_zygote_being_killed(box):
    source = solution_path(RELU).read_text()
    assert evaluate(RELU, source, EvalOptions(trials=1), box).status == Status.CORRECT
    zygote = box._idle[0]
    os.kill(zygote.proc.pid, signal.SIGKILL)
    zygote.proc.wait()
    assert evaluate(RELU, source, EvalOptions(trials=1), box).status == Status.CORRECT


class _ResettingSocket:
    """A zygote's socket whose peer resets the connection mid-step (a dying zygote)."""

    def __init__(self, real):
        self.real = real

    def recv(self, *args):
        raise ConnectionResetError(104, "Connection reset by peer")

    def __getattr__(self, name):
        return getattr(self.real, name)


@needs_namespaces
def test_a_zygote_connection_reset_mid_step_is_an_infra_error_not_an_exception(box, monkeypatch):
    """A parallel round once ended a whole run with ConnectionResetError raised out of the
    reference step: the sandbox's own faults are the step's infra error, and the pool goes on.
    The reset is planted in whichever zygote the next step gets (idle zygotes are kept per
    flavour, so the one left idle may not be the one the reference step takes)."""
    source = solution_path(RELU).read_text()
    assert evaluate(RELU, source, EvalOptions(trials=1), box).status == Status.CORRECT
    acquire = LocalSandbox._acquire

    def resetting(self, key):
        zygote = acquire(self, key)
        zygote.sock = _ResettingSocket(zygote.sock)
        return zygote

    monkeypatch.setattr(LocalSandbox, "_acquire", resetting)
    result = evaluate(RELU, source, EvalOptions(trials=1), box)
    monkeypatch.undo()
    assert result.status == Status.ERROR and result.error_kind == ErrorKind.INFRA, result.reason
    assert "Connection reset by peer" in (result.reason or "") + "".join(result.messages)
    assert evaluate(RELU, source, EvalOptions(trials=1), box).status == Status.CORRECT


@needs_namespaces
def test_any_os_error_of_the_sandbox_machinery_is_an_infra_error(box, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(box, "_run_forked", broken)
    result = evaluate(RELU, solution_path(RELU).read_text(), EvalOptions(trials=1), box)
    assert result.status == Status.ERROR and result.error_kind == ErrorKind.INFRA, result.reason
    assert "Too many open files" in (result.reason or "") + "".join(result.messages)


@needs_namespaces
def test_zygote_is_started_without_the_callers_secrets(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-zygote-must-not-see")
    monkeypatch.setenv("KWRIGHT_API_KEY", "kw-zygote-must-not-see")
    with LocalSandbox() as sandbox:
        sandbox.start(STEP_PROGRAM)
        environ = Path(f"/proc/{sandbox._idle[0].proc.pid}/environ").read_bytes()
    assert b"must-not-see" not in environ and b"PYTHONPATH=" in environ


@needs_namespaces
@pytest.mark.slow
def test_cold_namespaces_steps_give_the_same_verdicts():
    with LocalSandbox(warm=False) as sandbox:
        good = evaluate(RELU, solution_path(RELU).read_text(), EvalOptions(trials=1), sandbox)
        bad = evaluate(
            RELU, solution_path(RELU, wrong=True).read_text(), EvalOptions(trials=1), sandbox
        )
    assert good.status == Status.CORRECT, good.reason
    assert bad.status == Status.INCORRECT, bad.reason


@needs_namespaces
def test_a_sandbox_that_cannot_drop_privileges_is_an_infra_error():
    with LocalSandbox(uid=0, gid=0) as sandbox:  # refuses to run a step as root
        result = evaluate(RELU, solution_path(RELU).read_text(), EvalOptions(trials=1), sandbox)
    assert result.status == Status.ERROR and result.error_kind == ErrorKind.INFRA
    assert "privileges were not dropped" in result.reason


@pytest.mark.slow
@pytest.mark.skipif(bwrap_problem() is not None, reason=f"bubblewrap unusable: {bwrap_problem()}")
def test_bubblewrap_fallback_contains_network_and_filesystem(tmp_path):
    from kernelbench.harness.conformance import run_cases

    with LocalSandbox(isolation="bwrap") as sandbox:
        assert sandbox.mode() == "bwrap"
        results = run_cases(
            sandbox,
            ["loopback_connect", "write_outside_scratch", "parent_proc_environ"],
            tmp_path / "outside",
            timeout_s=60.0,
            memory_mb=2048,
        )
    by_case = {r.case: r for r in results}
    assert by_case["loopback_connect"].status == "runtime_error"
    assert by_case["loopback_connect"].listener_hits == 0
    assert by_case["write_outside_scratch"].status == "correct"
    assert by_case["write_outside_scratch"].written_outside == []
    assert by_case["parent_proc_environ"].status == "runtime_error"
    assert all(not r.leftover_processes for r in results)


@pytest.mark.slow
def test_process_fallback_warns_loudly_and_still_evaluates(caplog):
    with caplog.at_level(logging.WARNING), LocalSandbox(isolation="process") as sandbox:
        result = evaluate(RELU, solution_path(RELU).read_text(), EvalOptions(trials=1), sandbox)
        assert not {"network", "filesystem", "processes"} & sandbox.contains()
    assert result.status == Status.CORRECT, result.reason
    assert "NO network or filesystem isolation" in caplog.text


def test_unknown_isolation_and_backend_are_clear_errors():
    with pytest.raises(ValueError, match="isolation must be one of"):
        LocalSandbox(isolation="chroot")
    with pytest.raises(SandboxUnavailable, match="unknown sandbox 'vm'"):
        get_sandbox("vm")


@needs_namespaces
@pytest.mark.slow
def test_a_pool_of_two_serves_concurrent_callers():
    from concurrent.futures import ThreadPoolExecutor

    source = solution_path(RELU).read_text()
    with LocalSandbox(pool_size=2) as sandbox, ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda _: evaluate(RELU, source, EvalOptions(trials=1), sandbox), range(4))
        )
        assert sandbox._count <= 2
    assert [r.status for r in results] == [Status.CORRECT] * 4


def test_the_caller_reads_only_plain_files_inside_a_steps_scratch(tmp_path):
    from kernelbench.harness.evaluate import UnsafeStepFile, read_step_file

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "ok.pt").write_bytes(b"data")
    os.mkfifo(tmp_path / "out" / "fifo.pt")
    (tmp_path / "out" / "link.pt").symlink_to("/etc/passwd")
    (tmp_path / "root").symlink_to("/")
    assert read_step_file(tmp_path, "out/ok.pt", 100) == b"data"
    for rel in ("out/fifo.pt", "out/link.pt", "root/etc/passwd", "/dev/zero", "../../../dev/zero"):
        with pytest.raises(UnsafeStepFile):
            read_step_file(tmp_path, rel, 1 << 20)
    with pytest.raises(UnsafeStepFile, match="limit"):
        read_step_file(tmp_path, "out/ok.pt", 3)
    with pytest.raises(UnsafeStepFile):
        read_step_file(tmp_path, "out/missing.pt", 100)
