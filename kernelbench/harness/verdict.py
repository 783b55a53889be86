"""The caller's judgement of what the candidate's process wrote. Nothing here trusts it:
every fact that decides the verdict (output values and structure, whether inputs were
mutated, aliasing, timed outputs) is computed here from the files, and what the runner
says about itself (its guard record, its launches) can only make the verdict worse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from kernelbench.problems.loading import hash_values
from kernelbench.protocol import runner_files as p
from kernelbench.protocol.compare import compare_outputs
from kernelbench.protocol.request import StepReport
from kernelbench.protocol.result import TrialResult
from kernelbench.protocol.stepfiles import load_step_tensors

# A timed call this far under the roofline bound is faster than the hardware can go
# (the margin covers the vendors' rounded peak figures).
ROOFLINE_MARGIN = 0.9


def _storages(values: list[Any]) -> dict[int, int]:
    return {
        x.untyped_storage().data_ptr(): i
        for i, x in enumerate(values)
        if isinstance(x, torch.Tensor) and x.numel()
    }


def load_pair(cand_dir: Path, rel: str) -> tuple[list[Any], list[Any]]:
    """(outputs, inputs) from a runner's output file; ValueError if it is not one."""
    path = cand_dir / rel
    if not path.exists() and not path.is_symlink():
        raise ValueError("no output recorded for this trial")
    try:
        data = load_step_tensors(cand_dir, rel)
    except Exception as exc:
        raise ValueError(f"outputs unreadable: {type(exc).__name__}: {str(exc)[:200]}") from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("outputs"), list)
        or not isinstance(data.get("inputs"), list)
    ):
        raise ValueError("outputs unreadable: the output file is not the runner's format")
    return data["outputs"], data["inputs"]


def aliased_input(outputs: list[Any], inputs: list[Any]) -> int | None:
    """Index of an input whose storage an output shares (as saved together)."""
    storages = _storages(inputs)
    for o in outputs:
        if isinstance(o, torch.Tensor) and o.numel():
            hit = storages.get(o.untyped_storage().data_ptr())
            if hit is not None:
                return hit
    return None


def judge_trials(
    ref: StepReport,
    ref_outputs: dict[int, Any],
    cand_dir: Path,
    tolerance: dict[str, float] | None,
) -> tuple[list[TrialResult], str | None]:
    """Per trial: outputs present and readable, inputs unchanged, no aliasing, values close."""
    trials: list[TrialResult] = []
    failure: str | None = None
    for r in ref.trials:
        tr = TrialResult(trial=r.trial, seed=r.seed, sizes=r.sizes, ok=False)
        try:
            outputs, inputs = load_pair(cand_dir, p.trial_output_file(r.trial))
        except ValueError as exc:
            tr.reason = str(exc)
        else:
            if hash_values(inputs) != r.inputs_hash_after:
                tr.reason = "the candidate modified its inputs in place"
            elif (hit := aliased_input(outputs, inputs)) is not None:
                tr.reason = f"an output shares memory with input {hit} (aliasing)"
            else:
                tr.ok, tr.reason, tr.outputs = compare_outputs(
                    outputs, ref_outputs[r.trial], tolerance, r.noise
                )
        trials.append(tr)
        if not tr.ok and failure is None:
            failure = f"trial {tr.trial} (sizes {tr.sizes}): {tr.reason}"
    return trials, failure


def launch_finding(report: dict[str, Any]) -> str | None:
    """A CUDA C forward on the emulated device that launched no kernel (its output came
    from host code or torch ops): refused under any policy, as a Triton forward with no
    launch is refused in the runner. Reports without emulated CUDA counts pass."""
    counts = report.get("cuda_launches_per_trial")
    if counts is None:
        return None
    if not isinstance(counts, dict):
        return "launch record: the CUDA launch counts are malformed"
    done = report.get("trials_done")
    for trial in done if isinstance(done, list) else []:
        if str(trial) not in counts:
            return f"launch record: trial {trial} ran with no CUDA launch count"
    for trial, n in counts.items():
        if not isinstance(n, int) or n < 1:
            return (
                f"forward launched no CUDA kernel in trial {trial} (a CUDA C forward must "
                "launch at least one custom kernel; host code or torch ops computing the "
                "output are not one)"
            )
    return None


def guard_finding(report: dict[str, Any], allow_torch_ops: bool) -> str | None:
    """A rejection reason from the runner's guard record or its launch counts, if any (it
    can only hurt)."""
    guard = report.get("guard")
    if not isinstance(guard, dict):
        return "compute guard: no guard record (the runner did not finish)"
    intact = guard.get("intact_error")
    if intact:
        return f"compute guard tampered with: {intact}"
    violations = guard.get("violations")
    if not isinstance(violations, list):
        return "compute guard: the guard record is malformed"
    if violations and not allow_torch_ops:
        return f"compute guard: {violations[0]}"
    return launch_finding(report)


def _is_permutation(sample: Any, original: Any) -> bool:
    if not isinstance(original, torch.Tensor):
        return sample == original
    if not isinstance(sample, torch.Tensor) or sample.shape != original.shape:
        return False
    if sample.dtype != original.dtype:
        return False
    a, b = sample.reshape(-1), original.reshape(-1)
    if a.dtype == torch.bool:
        return int(a.sum()) == int(b.sum())
    return torch.equal(torch.sort(a).values, torch.sort(b).values)


def timed_samples(
    cand_dir: Path, originals: list[Any], samples: int
) -> tuple[list[tuple[list[Any], list[Any]]], str | None]:
    """The sampled timed calls' (inputs, outputs); an error if one is missing or its inputs
    are not a permutation of the first trial's (the runner's rotation)."""
    pairs: list[tuple[list[Any], list[Any]]] = []
    if samples < 1:
        return pairs, "no timed call's outputs were kept"
    for j in range(samples):
        try:
            data = load_step_tensors(cand_dir, p.timed_output_file(j))
            inputs, outputs = data["inputs"], data["outputs"]
        except Exception as exc:  # noqa: BLE001 - untrusted file
            return pairs, f"timed call sample {j} unreadable: {type(exc).__name__}"
        if len(inputs) != len(originals) or not all(
            _is_permutation(s, o) for s, o in zip(inputs, originals, strict=True)
        ):
            return pairs, f"timed call sample {j}: its inputs are not the ones handed over"
        pairs.append((inputs, outputs))
    return pairs, None


def below_roofline(min_ms: float, lower_bound_ms: float | None) -> str | None:
    if lower_bound_ms and min_ms < ROOFLINE_MARGIN * lower_bound_ms:
        return (
            f"timed at {min_ms:.4f} ms, below the roofline lower bound {lower_bound_ms:.4f} ms "
            "of this GPU: faster than the hardware can go"
        )
    return None
