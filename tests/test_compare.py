"""The tolerance policy (kernelbench.protocol.compare)."""

from __future__ import annotations

import torch

from kernelbench.protocol.compare import beyond_rounding, compare_outputs


def test_identical_outputs_pass():
    x = torch.randn(8, 16)
    ok, reason, checks = compare_outputs(x.clone(), x)
    assert ok and reason is None and checks[0].max_abs_err == 0.0


def test_zero_output_fails_for_tiny_magnitude_reference():
    # KernelBench #165: reference values ~1e-5 sit far below a fixed atol of 1e-2 or 1e-4.
    ref = torch.tanh(torch.randn(64, 256)) * 1e-5
    ok, reason, _ = compare_outputs(torch.zeros_like(ref), ref)
    assert not ok
    assert "constant" in reason
    # ...yet a correct computation at that scale passes.
    ok, _, _ = compare_outputs(ref * (1 + 1e-6), ref)
    assert ok


def test_constant_output_named_in_reason():
    ref = torch.randn(100)
    ok, reason, _ = compare_outputs(torch.full_like(ref, float(ref.mean())), ref)
    assert not ok and "constant" in reason


def test_all_zero_reference_accepts_zeros():
    ref = torch.zeros(10)
    assert compare_outputs(torch.zeros(10), ref)[0]


def test_shape_dtype_and_count_mismatches():
    ref = torch.randn(4, 4)
    assert "shape" in compare_outputs(torch.randn(4, 5), ref)[1]
    assert "dtype" in compare_outputs(ref.double(), ref)[1]
    assert "returned 2 output(s), expected 1" in compare_outputs((ref, ref), ref)[1]


def test_tuple_outputs_each_compared():
    a, b = torch.randn(3), torch.randn(5)
    ok, reason, _ = compare_outputs((a, b + 1), (a, b))
    assert not ok and reason.startswith("output 1:")
    assert compare_outputs([a, (b,)], (a, b))[0]


def test_nan_and_inf_positions_must_match():
    ref = torch.tensor([1.0, float("nan"), float("inf"), 2.0])
    assert compare_outputs(ref.clone(), ref)[0]
    moved = torch.tensor([float("nan"), 1.0, float("inf"), 2.0])
    assert "non-finite" in compare_outputs(moved, ref)[1]
    signed = torch.tensor([1.0, float("nan"), float("-inf"), 2.0])
    assert not compare_outputs(signed, ref)[0]


def test_integer_outputs_must_match_exactly():
    ref = torch.tensor([1, 2, 3])
    assert compare_outputs(ref.clone(), ref)[0]
    assert not compare_outputs(torch.tensor([1, 2, 4]), ref)[0]


def test_fp16_uses_looser_default_and_override_applies():
    ref = torch.randn(1000).half()
    slightly_off = (ref.float() * 1.005).half()
    assert compare_outputs(slightly_off, ref)[0]  # 1e-2 for fp16
    ref32 = torch.randn(1000)
    assert not compare_outputs(ref32 * 1.005, ref32)[0]  # 1e-4 for fp32
    assert compare_outputs(ref32 * 1.005, ref32, {"atol": 1e-2, "rtol": 1e-2})[0]


def test_the_reference_float32_error_is_a_floor_for_atol():
    """An ill-conditioned reference: its own float32 result is 1e-3 off its float64 one,
    ten times the default atol. A kernel as close as that passes with the floor (and the
    reason says why the tolerance is what it is), one 100x further off does not."""
    ref = torch.randn(4, 32)
    close = ref + 1e-3 * torch.sign(torch.randn(4, 32))
    ok, reason, _ = compare_outputs(close, ref)
    assert not ok and "own float32 error" not in reason  # atol * RMS(ref), ~1e-4
    ok, _, checks = compare_outputs(close, ref, noise=[1e-3])
    assert ok and checks[0].noise_floor == 4e-3 and checks[0].atol == 4e-3
    far = ref + 0.1
    ok, reason, _ = compare_outputs(far, ref, noise=[1e-3])
    assert not ok and "4x the reference's own float32 error" in reason


def test_a_well_conditioned_reference_keeps_the_default_tolerance():
    ref = torch.randn(64)
    ok, _, checks = compare_outputs(ref + 3e-4, ref, noise=[1e-7])
    assert not ok and checks[0].noise_floor is None


def test_noise_that_is_not_rounding_never_loosens_the_check():
    """A difference between the float32 and float64 runs over 1e-2 of the output's scale
    is randomness in forward (or dropout), not rounding: ignored, so a wrong output with
    a noisy reference still fails, and a non-finite noise is ignored too."""
    ref = torch.randn(256)
    wrong = ref + 0.5
    for noise in (0.5, float("nan"), float("inf")):
        ok, _, checks = compare_outputs(wrong, ref, noise=[noise])
        assert not ok and checks[0].noise_floor is None
    # per output: the floor of one output does not apply to another
    ok, reason, _ = compare_outputs((ref, ref + 1e-3), (ref, ref), noise=[1e-3, None])
    assert not ok and reason.startswith("output 1:")


def test_a_reference_beyond_rounding_of_its_float64_self_is_named():
    """Noise under 1e-2 of the output's RMS is rounding; over it, or not finite, the
    reference at those sizes cannot check a kernel, and the reason names the output."""
    ref = torch.ones(8) * 2.0  # RMS 2
    assert beyond_rounding([ref], [1.9e-2]) is None
    assert beyond_rounding([ref, torch.arange(3)], [None, 0.0]) is None
    for noise in (2.1e-2, float("nan")):
        reason = beyond_rounding([torch.zeros(2), ref], [0.0, noise])
        assert reason is not None and reason.startswith("the reference's output 1 is"), reason
