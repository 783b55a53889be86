"""The caller's judgement of runner files, piece by piece (no sandbox; fabricated files),
and the parts of the GPU timing defence that are plain tensor logic."""

from __future__ import annotations

import json

import torch

from kernelbench.harness.verdict import below_roofline, guard_finding, judge_trials, timed_samples
from kernelbench.problems.loading import hash_values
from kernelbench.protocol import runner_files as p
from kernelbench.protocol.request import StepReport, TrialOutput
from kernelbench.runner.guard import ComputeGuard
from kernelbench.runner.timed import Rotation


def _ref(x: torch.Tensor) -> StepReport:
    h = hash_values([x])
    return StepReport(
        step="reference",
        trials=[TrialOutput(trial=0, seed=1, sizes={"n": x.numel()}, shape_index=0,
                            inputs_hash_before=h, inputs_hash_after=h)],
    )  # fmt: skip


def _judge(tmp_path, payload):
    x = torch.arange(8.0)
    (tmp_path / "out").mkdir(exist_ok=True)
    if payload is not None:
        torch.save(payload(x), tmp_path / p.trial_output_file(0))
    trials, failure = judge_trials(_ref(x), {0: [x * 2]}, tmp_path, None)
    return trials[0], failure


def test_correct_outputs_pass(tmp_path):
    trial, failure = _judge(tmp_path, lambda x: {"outputs": [x * 2], "inputs": [x.clone()]})
    assert trial.ok and failure is None


def test_mutated_inputs_aliasing_and_forged_files_fail(tmp_path):
    trial, _ = _judge(tmp_path, lambda x: {"outputs": [x * 2], "inputs": [x + 1]})
    assert "modified its inputs" in trial.reason
    trial, _ = _judge(tmp_path, lambda x: {"outputs": [x], "inputs": [x]})
    assert "aliasing" in trial.reason
    trial, _ = _judge(tmp_path, lambda x: [x * 2])  # not the runner's format
    assert "not the runner's format" in trial.reason
    (tmp_path / p.trial_output_file(0)).unlink()
    trial, failure = _judge(tmp_path, None)
    assert trial.reason == "no output recorded for this trial" and "trial 0" in failure
    (tmp_path / p.trial_output_file(0)).symlink_to("/etc/passwd")
    trial, _ = _judge(tmp_path, None)
    assert "outputs unreadable" in trial.reason


def test_guard_record_can_only_make_it_worse():
    clean = {"guard": {"violations": [], "intact_error": None}}
    assert guard_finding(clean, allow_torch_ops=False) is None
    assert "no guard record" in guard_finding({}, allow_torch_ops=False)
    assert "tampered" in guard_finding({"guard": {"violations": [], "intact_error": "x"}}, False)
    bad = {"guard": {"violations": ["aten.exp ran in forward"], "intact_error": None}}
    assert "aten.exp" in guard_finding(bad, allow_torch_ops=False)
    assert guard_finding(bad, allow_torch_ops=True) is None
    assert "malformed" in guard_finding({"guard": {"violations": "none"}}, False)
    json.dumps(clean)


def test_the_guard_sees_compute_in_forward_and_not_bookkeeping():
    guard = ComputeGuard().install()
    try:
        x = torch.randn(64)
        guard.protect([x])
        guard.begin_forward()
        y = torch.empty_like(x).copy_(x.view(8, 8).t().contiguous().view(-1))
        int(torch.tensor(5).clamp(max=3))
        assert guard.violations == []
        torch.exp(y)
        x.tolist()
        guard.end_forward()
        assert any("aten.exp" in v for v in guard.violations)
        assert any("tolist" in v for v in guard.violations)
        assert guard.intact() is None
    finally:
        guard.uninstall()
    assert torch.Tensor.tolist is not None and guard.intact() is not None  # gone


def test_the_guard_notices_work_on_inputs_before_forward():
    guard = ComputeGuard().install()
    try:
        x = torch.randn(64)
        guard.protect([x])
        torch.exp(torch.randn(64))  # building constants: fine
        assert guard.violations == []
        torch.exp(x)  # a precomputed answer
        assert any("outside forward" in v for v in guard.violations)
    finally:
        guard.uninstall()


def test_rotation_refills_buffers_with_fresh_permutations():
    x = torch.randn(1000)
    idx = torch.randint(0, 7, (50,))
    rotation = Rotation([x, idx, 3])
    seen_ptrs, seen = set(), []
    for i in range(6):
        a, b, c = rotation(i)
        assert c == 3 and torch.equal(a.sort().values, x.sort().values)
        assert torch.equal(b.sort().values, idx.sort().values)
        seen_ptrs.add(a.data_ptr())
        seen.append(a.clone())
    assert len(seen_ptrs) == 3  # pointers repeat...
    assert not torch.equal(seen[0], seen[3])  # ...with new contents


def test_timed_samples_must_be_permutations_of_the_handed_inputs(tmp_path):
    x = torch.randn(100)
    (tmp_path / "out").mkdir()
    torch.save(
        {"inputs": [x[torch.randperm(100)]], "outputs": [x]}, tmp_path / p.timed_output_file(0)
    )
    pairs, error = timed_samples(tmp_path, [x], 1)
    assert error is None and len(pairs) == 1
    torch.save({"inputs": [torch.zeros(100)], "outputs": [x]}, tmp_path / p.timed_output_file(0))
    _, error = timed_samples(tmp_path, [x], 1)
    assert "not the ones handed over" in error
    _, error = timed_samples(tmp_path, [x], 0)
    assert "no timed call" in error


def test_faster_than_the_roofline_is_named():
    assert below_roofline(0.5, 1.0) and "roofline" in below_roofline(0.5, 1.0)
    assert below_roofline(0.95, 1.0) is None and below_roofline(0.1, None) is None
