# problem: level1/2_ReLU
# class: forge
# expect: not_correct
# layers: static
# why: at import, a caught exception's traceback walks up to run_step's frame (nonce, request, problem); it writes the reference's outputs and a step.json with the nonce, then posix._exit(0): no kernel ever runs. Against the runner (issue 12) the frames hold no nonce, request or problem, so the trick finds nothing and the file's real kernel computes the answer: with the static check off it is a correct kernel, so only the static layer is claimed
# ruff: noqa: E501
import posix

import torch
import triton
import triton.language as tl
from torch import nn


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    tl.store(y_ptr + offs, tl.maximum(x, 0.0), mask=mask)


def _frame_with(name):
    try:
        raise LookupError(name)
    except LookupError as exc:
        frame = exc.__traceback__.tb_frame
    while frame is not None and name not in frame.f_locals:
        frame = frame.f_back
    return frame


def _settle():
    from kernelbench.problems.loading import hash_values, make_init_inputs, make_inputs, seed_all
    from kernelbench.protocol.request import StepReport, TrialOutput, write_report

    top = _frame_with("nonce")
    if top is None:
        return
    workdir, req, nonce = top.f_locals["workdir"], top.f_locals["req"], top.f_locals["nonce"]
    problem = _frame_with("problem").f_locals["problem"]
    report = StepReport(step="candidate", nonce=nonce, kernel_launches=len(req.trials))
    for spec in req.trials:
        init = make_init_inputs(problem, spec.sizes)
        seed_all(req.init_seed)
        model = problem.Model(*init)
        inputs = make_inputs(problem, spec.sizes, spec.seed, req.device)
        before = hash_values(inputs)
        with torch.no_grad():
            out = model(*inputs)
        name = f"out/cand_{spec.trial}.pt"
        torch.save([out.detach().cpu().clone()], workdir / name)
        report.trials.append(
            TrialOutput(
                trial=spec.trial,
                seed=spec.seed,
                sizes=spec.sizes,
                shape_index=spec.shape_index,
                output_file=name,
                inputs_hash_before=before,
                inputs_hash_after=hash_values(inputs),
            )
        )
    write_report(workdir, report)
    posix._exit(0)


_settle()


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.empty_like(x)
        relu_kernel[(triton.cdiv(x.numel(), 1024),)](x, y, x.numel(), BLOCK=1024)
        return y
