"""Compare a candidate's outputs with the reference's.

Tolerance policy (documented in docs/evaluation.md, "How correctness is decided"):

* Structure first: the same number of outputs (tuples and lists are flattened in order),
  and per tensor the same shape and the same dtype.
* NaN and ±Inf must sit in exactly the same places (same sign for Inf).
* Floating values must satisfy ``|out - ref| <= atol_eff + rtol * |ref|`` element-wise,
  where ``atol_eff = atol * scale`` and ``scale`` is the RMS of the reference's finite
  values (``torch.finfo(dtype).tiny`` if the reference is all zeros). An absolute
  tolerance that does not scale with the output lets an all-zero or constant output pass
  whenever the reference's values are far below it (KernelBench issue #165); scaling by
  the output's own magnitude closes that hole while keeping the familiar meaning for
  outputs of magnitude ~1.
* Defaults per dtype follow KernelBench (torchbench): float32/float64 1e-4,
  float16/bfloat16 1e-2, for both atol and rtol. A problem may override with
  ``TOLERANCE = {"atol": ..., "rtol": ...}``.
* Noise floor: where the reference itself is ill-conditioned (18 train-mode batch norms
  over two samples), its own float32 result differs from its float64 result by more than
  that tolerance, and a faithful kernel cannot do better. The reference step measures that
  difference per output (``TrialOutput.noise``), and the absolute tolerance is at least
  ``NOISE_FACTOR`` times it. A difference over ``NOISE_CEILING * scale`` is not rounding
  (randomness in ``forward``, dropout) and is ignored, so the floor never exceeds
  KernelBench's own tolerance of 1e-2.
  For float16/bfloat16 outputs (``--precision fp16|bf16``) the ceiling is
  ``HALF_NOISE_CEILING``: their own rounding is ~1e-3 of the values.
* Not judgeable: where the reference's own error is at or above its scale (the exact
  output is ~0 and float32 is noise), no tolerance tells right from wrong: the output's
  values are not judged (``TensorCheck.judgeable``; structure still is).
* Trivial outputs: where an all-zero output would pass the tolerance (a wide
  ``TOLERANCE``), a constant output is refused (``TensorCheck.trivial``: "zeros"), and
  where a constant would pass it is named ("constant").
* Precision (``EvalOptions.precision``): KernelBench's tolerances, fp32 1e-4, fp16 and
  bf16 1e-2 (``PRECISION_TOLERANCES``), whatever the output's dtype.
* Integer and bool outputs must match exactly.
* A constant output for a non-constant reference is named as such in the reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from kernelbench.protocol.result import TensorCheck
from kernelbench.protocol.runner_files import flatten_outputs

NOISE_FACTOR = 4.0
NOISE_CEILING = 1e-2
HALF_NOISE_CEILING = 0.25
# KernelBench's (src/kernelbench/eval.py get_tolerance_for_precision): atol = rtol
PRECISION_TOLERANCES = {"fp32": 1e-4, "fp16": 1e-2, "bf16": 1e-2}
PRECISION_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}

DEFAULT_TOLERANCES: dict[torch.dtype, float] = {
    torch.float64: 1e-4,
    torch.float32: 1e-4,
    torch.float16: 1e-2,
    torch.bfloat16: 1e-2,
}


def _as_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, bool | int | float):
        return torch.tensor(value)
    return None


def tolerance_for(dtype: torch.dtype, override: dict[str, float] | None) -> tuple[float, float]:
    base = DEFAULT_TOLERANCES.get(dtype, 1e-4)
    atol, rtol = base, base
    if override:
        atol = override.get("atol", atol)
        rtol = override.get("rtol", rtol)
    return atol, rtol


def precision_tolerance(
    precision: str, override: dict[str, float] | None
) -> dict[str, float] | None:
    """The tolerance override at `precision`: fp32 the problem's own; fp16/bf16 at least
    KernelBench's 1e-2 (atol and rtol)."""
    base = PRECISION_TOLERANCES[precision]
    if precision == "fp32":
        return override
    return {k: max(base, (override or {}).get(k, base)) for k in ("atol", "rtol")}


def noise_ceiling(dtype: torch.dtype) -> float:
    return HALF_NOISE_CEILING if dtype in (torch.float16, torch.bfloat16) else NOISE_CEILING


def _fmt_index(flat_index: int, shape: Iterable[int]) -> str:
    dims = list(shape)
    idx: list[int] = []
    for size in reversed(dims):
        idx.append(flat_index % size if size else 0)
        flat_index = flat_index // size if size else 0
    return "(" + ", ".join(str(i) for i in reversed(idx)) + ")"


def noise_floor(noise: float | None, scale: float, ceiling: float = NOISE_CEILING) -> float:
    """The absolute tolerance the reference's own float32 error calls for (0: none)."""
    if noise is None or not math.isfinite(noise) or noise > ceiling * scale:
        return 0.0
    return NOISE_FACTOR * noise


def _rms(finite: torch.Tensor) -> float:
    """The RMS of already-finite float64 values (0 for none)."""
    return math.sqrt(float((finite * finite).mean())) if finite.numel() else 0.0


def noise_ratio(outputs: list[Any], noise: list[float | None] | None) -> tuple[float, int]:
    """The largest ``noise / RMS`` over the floating outputs (inf where a noise is not
    finite), and that output's index; (0, -1) where none has a noise."""
    worst = (0.0, -1)
    for i, (out, n) in enumerate(zip(outputs, noise or [], strict=False)):
        if n is None or not isinstance(out, torch.Tensor) or not out.is_floating_point():
            continue
        rms = _rms(out[torch.isfinite(out)].to(torch.float64))
        ratio = n / rms if math.isfinite(n) and rms > 0 else (0.0 if n == 0 else math.inf)
        # in units of the dtype's ceiling: float16 rounding is not ill-conditioning
        worst = max(worst, (ratio * NOISE_CEILING / noise_ceiling(out.dtype), i))
    return worst


def beyond_rounding(outputs: list[Any], noise: list[float | None] | None) -> str | None:
    """Why the reference's own float32 outputs cannot be checked against (None: they can):
    an output off its float64 self by more than ``NOISE_CEILING`` of its RMS, ill-conditioned
    (batch statistics over a few values) or random at these sizes."""
    ratio, i = noise_ratio(outputs, noise)
    if ratio <= NOISE_CEILING:
        return None
    ratio *= noise_ceiling(outputs[i].dtype) / NOISE_CEILING  # noise_ratio's units: undone
    return (
        f"the reference's output {i} is {ratio:.3g}x its RMS off its float64 self:"
        " ill-conditioned or random at these sizes"
    )


def compare_tensor(
    index: int,
    out: torch.Tensor,
    ref: torch.Tensor,
    override: dict[str, float] | None,
    noise: float | None = None,
) -> TensorCheck:
    check = TensorCheck(
        index=index,
        shape=list(out.shape),
        ref_shape=list(ref.shape),
        dtype=str(out.dtype).removeprefix("torch."),
        ref_dtype=str(ref.dtype).removeprefix("torch."),
        numel=ref.numel(),
    )
    if out.shape != ref.shape:
        check.shape_ok = False
        check.first_mismatch = f"shape {tuple(out.shape)} != expected {tuple(ref.shape)}"
        return check
    if out.dtype != ref.dtype:
        check.dtype_ok = False
        check.first_mismatch = f"dtype {check.dtype} != expected {check.ref_dtype}"
        return check
    if ref.numel() == 0:
        return check
    if not (ref.is_floating_point() or ref.is_complex()):
        diff = out != ref
        check.mismatched = int(diff.sum())
        check.values_ok = check.mismatched == 0
        check.max_abs_err = float((out.to(torch.float64) - ref.to(torch.float64)).abs().max())
        if not check.values_ok:
            i = int(diff.flatten().nonzero()[0])
            check.first_mismatch = (
                f"at {_fmt_index(i, ref.shape)}: got {out.flatten()[i].item()}, "
                f"expected {ref.flatten()[i].item()}"
            )
        return check

    o = out.to(torch.float64)
    r = ref.to(torch.float64)
    # Non-finite values: same positions, same kind.
    o_nan, r_nan = torch.isnan(o), torch.isnan(r)
    o_inf, r_inf = torch.isinf(o), torch.isinf(r)
    if (
        not torch.equal(o_nan, r_nan)
        or not torch.equal(o_inf, r_inf)
        or not torch.equal(o[r_inf], r[r_inf])
    ):
        check.nonfinite_ok = False
        bad = (o_nan != r_nan) | (o_inf != r_inf)
        where = bad.flatten().nonzero()
        if where.numel():
            i = int(where[0])
            check.first_mismatch = (
                f"non-finite mismatch at {_fmt_index(i, ref.shape)}: got {o.flatten()[i].item()}, "
                f"expected {r.flatten()[i].item()}"
            )
        else:
            check.first_mismatch = "Inf of the wrong sign"
        return check

    finite = torch.isfinite(r)
    r_f, o_f = r[finite], o[finite]
    atol, rtol = tolerance_for(ref.dtype, override)
    rms = _rms(r_f)
    scale = rms if rms > 0 else torch.finfo(ref.dtype).tiny
    if noise is not None and math.isfinite(noise) and noise >= scale:
        check.judgeable, check.noise, check.scale = False, noise, scale
        return check  # the reference is its own noise here: values cannot be judged
    floor = noise_floor(noise, scale, noise_ceiling(ref.dtype))
    atol_eff = max(atol * scale, floor)
    check.atol, check.rtol = atol_eff, rtol
    check.noise_floor = floor if floor > atol * scale else None
    err = (o_f - r_f).abs()
    bound = atol_eff + rtol * r_f.abs()
    bad = err > bound
    check.trivial = _trivial(r_f, bound)
    constant = bool(o_f.max() == o_f.min())
    if check.trivial == "zeros" and constant and (bool(r_f.max() > r_f.min()) or not o_f.any()):
        bad = torch.ones_like(bad)  # a constant (zeros) where zeros would pass: never accepted
        check.first_mismatch = (
            f"output is constant ({o_f.flatten()[0].item():.6g} everywhere) where this "
            "tolerance would accept all zeros: a constant output is not accepted here"
        )
    check.mismatched = int(bad.sum())
    check.max_abs_err = float(err.max()) if err.numel() else 0.0
    rel = err / r_f.abs().clamp_min(atol_eff if atol_eff > 0 else 1e-30)
    check.max_rel_err = float(rel.max()) if rel.numel() else 0.0
    check.values_ok = check.mismatched == 0
    if not check.values_ok and check.first_mismatch is None:
        ref_constant = bool((r_f.max() - r_f.min()) <= atol_eff) if r_f.numel() else True
        out_constant = o_f.numel() > 1 and bool(o_f.max() == o_f.min())
        if out_constant and not ref_constant:
            check.first_mismatch = (
                f"output is constant ({o_f.flatten()[0].item():.6g} everywhere) "
                "but the reference is not"
            )
        else:
            flat_positions = finite.flatten().nonzero().flatten()
            j = int(bad.nonzero()[0])
            i = int(flat_positions[j])
            check.first_mismatch = (
                f"at {_fmt_index(i, ref.shape)}: got {o.flatten()[i].item():.6g}, "
                f"expected {r.flatten()[i].item():.6g}"
            )
    return check


def _trivial(r_f: torch.Tensor, bound: torch.Tensor) -> str | None:
    """ "zeros" where an all-zero output would pass `bound` though the reference is not all
    zero, "constant" where its midrange would though it is not constant, else None."""
    if not r_f.numel() or not bool(r_f.abs().max() > 0):
        return None
    if bool((r_f.abs() <= bound).all()):
        return "zeros"
    low, high = r_f.min(), r_f.max()
    if bool(high > low) and bool(((r_f - (low + high) / 2).abs() <= bound).all()):
        return "constant"
    return None


def compare_outputs(
    out: Any,
    ref: Any,
    override: dict[str, float] | None = None,
    noise: list[float | None] | None = None,
) -> tuple[bool, str | None, list[TensorCheck]]:
    """(ok, reason, per-output checks) for one trial; `noise`: the reference's own float32
    error per flattened output (the noise floor, module doc)."""
    outs, refs = flatten_outputs(out), flatten_outputs(ref)
    if len(outs) != len(refs):
        return False, f"returned {len(outs)} output(s), expected {len(refs)}", []
    checks: list[TensorCheck] = []
    for i, (o_raw, r_raw) in enumerate(zip(outs, refs, strict=True)):
        if r_raw is None or o_raw is None:
            if (r_raw is None) != (o_raw is None):
                return (
                    False,
                    f"output {i}: got {type(o_raw).__name__}, expected {type(r_raw).__name__}",
                    checks,
                )
            continue
        r_t = _as_tensor(r_raw)
        o_t = _as_tensor(o_raw)
        if r_t is None:
            if o_raw != r_raw:
                return False, f"output {i}: got {o_raw!r}, expected {r_raw!r}", checks
            continue
        if o_t is None:
            return False, f"output {i}: got {type(o_raw).__name__}, expected a tensor", checks
        check = compare_tensor(
            i, o_t, r_t, override, noise[i] if noise and i < len(noise) else None
        )
        checks.append(check)
        if not (check.shape_ok and check.dtype_ok and check.nonfinite_ok and check.values_ok):
            detail = check.first_mismatch or "mismatch"
            if check.values_ok is False and check.mismatched:
                tol = (
                    f", atol {check.atol:.3g}, rtol {check.rtol:.3g}"
                    if check.atol is not None and check.rtol is not None
                    else ", exact match required"
                )
                if check.noise_floor is not None:
                    tol += f" (atol: {NOISE_FACTOR:g}x the reference's own float32 error)"

                detail = (
                    f"{check.mismatched}/{check.numel} values out of tolerance "
                    f"(max abs err {check.max_abs_err or 0.0:.3g}{tol}); first {detail}"
                )
            prefix = f"output {i}: " if len(refs) > 1 else ""
            return False, prefix + detail, checks
    return True, None, checks
