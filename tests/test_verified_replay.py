"""The replay runs only what was compiled for the target (issue 28, point 2).

The caller compiles the candidate's kernels for sm_90 from the launches and CUDA sources
its (blind) step reported, and the replay runs the launches and sources of the recorded
program. Both come from the candidate's own process, so a candidate can make them differ:
report a launch whose constexpr picks a path of the body that is Triton code while the
program launches the path that only the interpreter runs, drop its launches from the
report, or edit the CUDA source in its program. The mechanism under test: the replay
checks every launch (kernel, argument types, constexprs) and every CUDA source against
the tokens of what compiled, before running it. Each tamper below leaves the program's
work right on the CPU (shown with profiling off, where nothing is compiled and nothing is
checked: `correct`); with the check it is `rejected`.
"""

from __future__ import annotations

import pytest

from kernelbench.harness.evaluate import evaluate
from kernelbench.problems.registry import resolve_problem
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import Status
from tests.test_compile_for_target import TRITON as RELU_TRITON
from tests.test_cuda_blind import KERNEL, TAMPER_HOST, candidate

RELU = "level1/2_ReLU"

# MODE 1 is a path only Triton's interpreter runs (numpy on the block's buffer); MODE 0 is
# Triton code. A constexpr `if` is resolved at compile time: sm_90 compiles only the path
# the launch's MODE picks.
BODY = """if MODE == 1:
        x.handle.data[:] = x.handle.data.clip(0)
        y = x
    else:
        y = tl.where(x > 0, x, 0.0)"""
TRITON = (
    RELU_TRITON.replace("import torch\n", "import gc\nimport torch\n", 1)
    .replace("BLOCK: tl.constexpr)", "BLOCK: tl.constexpr, MODE: tl.constexpr)")
    .replace("BODY", BODY)
    .replace("BLOCK=1024)", "BLOCK=1024, MODE=MODE_USED)\n        TAMPER")
)

RECORDERS = "[o for o in gc.get_objects() if type(o).__name__ == 'LaunchRecorder']"
REPORT_TAMPERS = {
    "none": "pass",
    # the verifier is shown the Triton path, the program keeps the interpreter's
    "constexpr": f"for r in {RECORDERS}:\n            for rec in r.records: rec.constexprs['MODE'] = 0",
    # the verifier is shown no launch at all
    "dropped": f"for r in {RECORDERS}: r._records.clear()",
}


def options(*, profile: bool, backend: str = "triton") -> EvalOptions:
    return EvalOptions(
        device="cpu",
        backend=backend,  # type: ignore[arg-type]
        trials=1,
        extra_shapes=False,
        blind=True,
        static_check=False,  # the tamper reaches the recorder through gc
        profile=profile,
    )


def triton_candidate(mode: int, tamper: str) -> str:
    return TRITON.replace("MODE_USED", str(mode)).replace("TAMPER", REPORT_TAMPERS[tamper])


@pytest.mark.parametrize("tamper", sorted(REPORT_TAMPERS))
def test_the_replay_runs_only_launches_compiled_for_the_target(tamper: str) -> None:
    problem = resolve_problem(RELU)
    # The Triton path, untampered: compiled, replayed, correct.
    if tamper == "none":
        good = evaluate(problem, triton_candidate(0, "none"), options(profile=True))
        assert good.status == Status.CORRECT, (good.status, good.reason)
        assert good.verified_arch == "sm_90" and good.blind
    source = triton_candidate(1, tamper)
    # Nothing compiled, nothing checked: the interpreter computes the MODE 1 path right.
    unchecked = evaluate(problem, source, options(profile=False))
    assert unchecked.status == Status.CORRECT, (unchecked.status, unchecked.reason)
    result = evaluate(problem, source, options(profile=True))
    if tamper == "none":  # the report is honest: sm_90 refuses the launch before the replay
        assert result.status == Status.COMPILE_ERROR, (result.status, result.reason)
        assert "not valid for sm_90: kernel relu_kernel" in (result.reason or "")
        return
    assert result.status == Status.REJECTED, (result.status, result.reason)
    assert "never compiled for the target" in (result.reason or ""), result.reason
    assert not result.blind and result.verified_arch in (None, "sm_90")


CUDA_TAMPER = r"""
        import gc
        y = ext.relu(x)
        program = next(o for o in gc.get_objects() if type(o).__name__ == "Recorder")
        for step in program.steps:
            if step.get("kind") == "cuda_module":
                step["cuda"] += "\n// not what nvcc compiled\n"
        return y
"""


@pytest.mark.slow
def test_the_replay_builds_only_cuda_sources_nvcc_compiled() -> None:
    problem = resolve_problem(RELU)
    source = candidate(KERNEL + TAMPER_HOST, "verified_tamper", CUDA_TAMPER)
    unchecked = evaluate(problem, source, options(profile=False, backend="cuda"))
    assert unchecked.status == Status.CORRECT, (unchecked.status, unchecked.reason)
    result = evaluate(problem, source, options(profile=True, backend="cuda"))
    assert result.status == Status.REJECTED, (result.status, result.reason)
    assert "never compiled with nvcc" in (result.reason or ""), result.reason
