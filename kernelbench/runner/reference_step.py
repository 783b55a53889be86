"""The trusted child steps that run the problem's own code (never candidate code).

* `reference`: imports the problem, plans the check shapes (plus one drawn from the
  caller's secret seed), and per trial makes the seeded inputs, saves them untouched, runs
  `Model` and saves its outputs, input digests and, per shape, the init arguments and
  parameters the candidate gets. On a GPU it also times the reference (the same timer as
  the candidate's, in this process: the problem never enters the candidate's). Faults
  here are the problem's (`bad_problem`). It also runs the reference in float64 (the
  noise floor, kernelbench.protocol.compare): a shape where float32 is over NOISE_CEILING of the
  output's RMS off it is ill-conditioned and falls back like a shape the reference fails.
* `recheck`: runs the reference again on the inputs of the candidate's sampled timed calls
  (GPU), so the caller can compare those outputs too.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from pathlib import Path
from typing import Any

import torch

from kernelbench.problems.loading import (
    arity_error,
    cast_floating,
    hash_values,
    make_init_inputs,
    make_inputs,
    seed_all,
)
from kernelbench.problems.meta_work import measure, time_limit
from kernelbench.problems.resize import ResizableProblem
from kernelbench.problems.sizes import (
    TooLargeForCpu,
    first_working,
    grown,
    plan_shapes,
    random_shape,
    random_varying,
)
from kernelbench.protocol.compare import PRECISION_DTYPES, beyond_rounding, noise_ratio
from kernelbench.protocol.errors import StepFailed, describe, format_traceback
from kernelbench.protocol.request import (
    PROBLEM_FILE,
    StepReport,
    StepRequest,
    TrialOutput,
    read_nonce,
    write_report,
)
from kernelbench.protocol.runner_files import flatten_outputs
from kernelbench.protocol.timing import time_gpu

log = logging.getLogger(__name__)

OUT_DIR = "out"
RANDOM_SHAPE_DRAWS = 4
META_SCREEN_S = 1.0  # a first-shape meta trace slower than this: draws are not screened
# a full-size recurrent net traces on meta one time step at a time (a minute for LSTMs):
# past this, its roofline is unknown rather than the check slow
ROOFLINE_BUDGET_S = 4.0


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def canonical_outputs(output: Any) -> list[Any]:
    """Outputs as a flat list of CPU tensors / plain scalars that torch.load(weights_only) reads."""
    flat: list[Any] = []
    for item in flatten_outputs(output):
        if isinstance(item, torch.Tensor):
            flat.append(item.detach().cpu().clone())
        elif item is None or isinstance(item, bool | int | float | str):
            flat.append(item)
        else:
            flat.append(f"<unsupported output type {type(item).__name__}>")
    return flat


class _Run:
    """One reference forward: its model, pristine inputs, outputs and digests."""

    def __init__(
        self,
        problem: ResizableProblem,
        sizes: dict[str, int],
        seed: int,
        init_seed: int,
        device: str,
        precision: str = "fp32",
    ) -> None:
        # KernelBench's precision cast: floating init arguments, weights and inputs
        dtype = None if precision == "fp32" else PRECISION_DTYPES[precision]
        try:  # executed afresh at `sizes`, so that values derived from them follow
            module = problem.module(sizes)
        except Exception as exc:
            raise StepFailed(
                "bad_problem", f"executing the problem raised {describe(exc)}"
            ) from exc
        try:
            self.init = cast_floating(make_init_inputs(module, sizes), dtype)
        except Exception as exc:
            raise StepFailed("bad_problem", f"get_init_inputs() raised {describe(exc)}") from exc
        bad = arity_error(module.Model.__init__, [None, *self.init], "Model.__init__")
        if bad:
            raise StepFailed("bad_problem", f"{bad} (from get_init_inputs())")
        try:
            seed_all(init_seed)
            self.model = module.Model(*self.init).to(device=device, dtype=dtype)
        except Exception as exc:
            raise StepFailed(
                "bad_problem", f"Model(*get_init_inputs()) raised {describe(exc)}"
            ) from exc
        self.state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        try:
            self.inputs = cast_floating(make_inputs(module, sizes, seed, device), dtype)
        except Exception as exc:
            raise StepFailed("bad_problem", f"get_inputs() raised {describe(exc)}") from exc
        bad = arity_error(self.model.forward, self.inputs, "Model.forward")
        if bad:
            raise StepFailed("bad_problem", f"{bad} (from get_inputs())")
        self.pristine = [x.detach().cpu().clone() if isinstance(x, torch.Tensor) else x
                         for x in self.inputs]  # fmt: skip
        self.hash_before = hash_values(self.inputs)
        try:
            with torch.no_grad():
                self.output = self.model(*self.inputs)
            _sync(device)
        except Exception as exc:
            raise StepFailed("bad_problem", f"Model.forward raised {describe(exc)}") from exc
        self.hash_after = hash_values(self.inputs)


def _float64_noise(
    problem: ResizableProblem, sizes: dict[str, int], run: _Run, init_seed: int, device: str
) -> list[float | None] | None:
    """Per flattened output, max |float32 output - float64 output| of the reference on the
    same (pristine) inputs and parameters: its own rounding error, the comparison's noise
    floor (kernelbench.protocol.compare). A fresh model (stateful forwards), None where the model
    will not run in float64."""
    try:
        module = problem.module(sizes)
        seed_all(init_seed)
        model = module.Model(*run.init).to(device).double()
        inputs = [
            x.to(device, torch.float64 if x.is_floating_point() else x.dtype)
            if isinstance(x, torch.Tensor)
            else x
            for x in run.pristine
        ]
        with torch.no_grad():
            wide = flatten_outputs(model(*inputs))
        _sync(device)
    except Exception as exc:  # noqa: BLE001 - optional: the default tolerance then holds
        log.debug("no float64 reference: %s", describe(exc))
        return None
    narrow = flatten_outputs(run.output)
    if len(wide) != len(narrow):
        return None
    noise: list[float | None] = []
    for n, w in zip(narrow, wide, strict=True):
        if not (
            isinstance(n, torch.Tensor)
            and isinstance(w, torch.Tensor)
            and n.is_floating_point()
            and n.shape == w.shape
        ):
            noise.append(None)
            continue
        diff = (n.detach().double().cpu() - w.detach().double().cpu()).abs()
        finite = diff[torch.isfinite(diff)]
        noise.append(float(finite.max()) if finite.numel() else 0.0)
    return noise


def _roofline_inputs(
    problem: ResizableProblem, defaults: dict[str, int]
) -> tuple[float | None, float | None, str | None]:
    """(FLOPs, minimum bytes moved, main floating dtype) at the default sizes, from one
    forward on the meta device (within ROOFLINE_BUDGET_S; else unknown)."""
    try:
        module = problem.module(defaults)
        with time_limit(ROOFLINE_BUDGET_S):
            work = measure(module)
    except Exception as exc:  # noqa: BLE001 - optional facts; many ops lack meta kernels
        log.debug("no roofline inputs: %s", exc)
        return None, None, None
    if work.flops is None:
        return None, None, None
    return work.flops, work.min_bytes, work.dtype


def _load_problem(workdir: Path, defaults: dict[str, int]) -> ResizableProblem:
    try:
        problem = ResizableProblem.from_path(workdir / PROBLEM_FILE, "kw_problem")
        problem.module(defaults)  # an import error is the problem's, whatever the sizes
        return problem
    except Exception as exc:
        raise StepFailed(
            "bad_problem",
            f"importing the problem raised {describe(exc)}",
            format_traceback(exc, workdir),
        ) from exc


def _plans(
    problem: ResizableProblem, req: StepRequest
) -> list[tuple[dict[str, int], list[dict[str, int]], bool]]:
    """(primary, backoffs, is_random) per shape; the random one comes last."""
    try:
        planned = plan_shapes(
            problem.module, req.defaults, req.check_sizes, req.device, req.extra_shapes
        )
    except TooLargeForCpu as exc:
        raise StepFailed("bad_problem", str(exc)) from exc
    plans = [(primary, backoffs, False) for primary, backoffs in planned]
    if req.random_shape_seed is not None and plans:
        rng = random.Random(req.random_shape_seed)
        base = plans[0][0]
        varying = random_varying(req.defaults, req.check_sizes)
        draws = [
            random_shape(base, varying, rng, keep_factors=i >= RANDOM_SHAPE_DRAWS // 2)
            for i in range(RANDOM_SHAPE_DRAWS)
        ]
        larger = grown(base, req.defaults)  # where the reference is ill-conditioned at them all
        if larger != base:
            draws += [random_shape(larger, varying, rng, keep_factors=k) for k in (False, True)]
        if req.device == "cpu" and not req.check_sizes:  # the generic rule traced on meta already
            draws = _screened_on_meta(problem, base, draws)
        if draws:
            plans.append((draws[0], draws[1:], True))
    return plans


def _screened_on_meta(
    problem: ResizableProblem, base: dict[str, int], draws: list[dict[str, int]]
) -> list[dict[str, int]]:
    """The draws the meta device accepts, in order, so that a draw the problem refuses (a
    VGG classifier needs 224x224 images) costs no real forward of a large network; none
    where meta refuses them all (the caller flags the dropped shape). All of them where
    meta cannot run the first shape, or is slow to (a recurrent network: seconds per
    trace, while its real forward at check sizes is quick)."""
    started = time.perf_counter()
    if not measure(problem.module(base)).ran or time.perf_counter() - started > META_SCREEN_S:
        return draws
    return [d for d in draws if measure(problem.module(d)).ran]


# sizes, and each seed's run with its noise (kernelbench.protocol.compare.noise_ratio)
_Ran = tuple[dict[str, int], list[tuple["_Run", list[float | None] | None]]]
# Every seed's float64 run is checked where the first took under CHEAP_FLOAT64_S or was
# over SENSITIVE (noise / RMS) off: EfficientNetB2 at its check shape is 6e-5 to 2.1x its
# RMS off depending on the inputs (0.03 s per float64 forward); VGG19 (no batch norm) 1 s.
SENSITIVE = 1e-4
CHEAP_FLOAT64_S = 0.5


def reference_step(workdir: Path, req: StepRequest) -> StepReport:
    report = StepReport(step="reference")
    out_dir = workdir / OUT_DIR
    out_dir.mkdir(exist_ok=True)
    problem = _load_problem(workdir, req.defaults)
    trial_no = 0
    seeds_for_shape = [req.seeds_first_shape, *([s] for s in req.seed_per_extra_shape)]
    first_run: _Run | None = None
    plans = _plans(problem, req)
    if req.random_shape_seed is not None and not any(is_random for _, _, is_random in plans):
        report.shapes_dropped.append("the secret shape: every draw refused on the meta device")
    for shape_index, (primary, backoffs, is_random) in enumerate(plans):
        seeds = seeds_for_shape[shape_index] if shape_index < len(seeds_for_shape) else []
        if not seeds:
            continue
        bag: dict[str, _Ran] = {}

        def works(
            sizes: dict[str, int], seeds: list[int] = seeds, bag: dict[str, _Ran] = bag
        ) -> str | None:
            ran: list[tuple[_Run, list[float | None] | None]] = []
            bag["run"] = (sizes, ran)
            for seed in seeds:  # every seed, unless the first is costly and insensitive
                try:
                    run = _Run(problem, sizes, seed, req.init_seed, req.device, req.precision)
                except StepFailed as exc:
                    return exc.message
                started = time.perf_counter()
                noise = _float64_noise(problem, sizes, run, req.init_seed, req.device)
                cheap = time.perf_counter() - started <= CHEAP_FLOAT64_S
                ran.append((run, noise))
                bag.setdefault("first", (sizes, ran))
                outputs = flatten_outputs(run.output)
                why = beyond_rounding(outputs, noise)
                if why or not (cheap or noise_ratio(outputs, noise)[0] > SENSITIVE):
                    return why
            return None

        sizes, errors = first_working([primary, *backoffs], works)
        first = bag.pop("first", None)
        if sizes is None and shape_index == 0 and first is not None:
            # no shape is well-conditioned: the first one that ran, its noise floor off
            sizes, _ = bag["run"] = first
        del first
        if sizes is None:
            if shape_index == 0:
                raise StepFailed("bad_problem", errors[-1] if errors else "no usable shape")
            report.shapes_dropped.append(errors[-1] if errors else str(primary))
            continue
        if is_random:
            report.random_shape = sizes
        _, ran = bag.pop("run")
        run = ran[0][0]
        torch.save({"init": run.init, "state": run.state}, out_dir / f"init_{shape_index}.pt")
        for i, seed in enumerate(seeds):
            if i < len(ran):  # the seeds works() ran (all of them where it is sensitive)
                run, noise = ran[i]
            else:  # costly and insensitive at the first seed: its noise serves the others
                run = _Run(problem, sizes, seed, req.init_seed, req.device, req.precision)
                noise = ran[0][1]
            first_run = first_run or run
            torch.save(canonical_outputs(run.output), out_dir / f"ref_{trial_no}.pt")
            torch.save(run.pristine, out_dir / f"inputs_{trial_no}.pt")
            report.trials.append(
                TrialOutput(
                    trial=trial_no,
                    seed=seed,
                    sizes=sizes,
                    shape_index=shape_index,
                    output_file=f"{OUT_DIR}/ref_{trial_no}.pt",
                    inputs_hash_before=run.hash_before,
                    inputs_hash_after=run.hash_after,
                    noise=noise,
                )
            )
            trial_no += 1
        del run, ran  # a large network's model: not alive while the next shape's first runs
    report.flops, report.min_bytes, report.dtype = _roofline_inputs(problem, req.defaults)
    if first_run is not None and req.timing.enabled and req.device == "cuda":
        _time_reference(req, first_run, report)
    return report


def _time_reference(req: StepRequest, run: _Run, report: StepReport) -> None:
    from kernelbench.runner.timed import Rotation  # noqa: PLC0415 - heavy library, imported where used

    spec = req.timing
    rotation = Rotation(run.inputs)
    timer = functools.partial(
        time_gpu, trials=spec.trials, warmup=spec.warmup, budget_s=spec.budget_s, rotate=rotation
    )
    try:
        report.ref_timing = timer(run.model, run.inputs)
        if spec.torch_compile:
            report.ref_compile_timing = timer(torch.compile(run.model), run.inputs)
    except Exception as exc:
        raise StepFailed("bad_problem", f"timing the reference raised {describe(exc)}") from exc


def recheck_step(workdir: Path, req: StepRequest) -> StepReport:
    """The reference's outputs on each `timed_<j>.pt`'s inputs, as `recheck_<j>.pt`."""
    report = StepReport(step="recheck")
    problem = _load_problem(workdir, req.defaults)
    run = _Run(problem, req.defaults, req.init_seed, req.init_seed, req.device, req.precision)
    for path in sorted(workdir.glob("timed_*.pt")):
        data = torch.load(path, weights_only=True)
        inputs = [x.to(req.device) if isinstance(x, torch.Tensor) else x for x in data["inputs"]]
        with torch.no_grad():
            output = run.model(*inputs)
        torch.save(canonical_outputs(output), workdir / path.name.replace("timed_", "recheck_"))
    return report


def run_trusted_step(workdir: Path) -> int:
    """Run the reference or recheck step of workdir/request.json; report to step.json."""

    nonce = read_nonce(workdir)
    req = StepRequest.model_validate_json((workdir / "request.json").read_text(encoding="utf-8"))
    try:
        report = (
            recheck_step(workdir, req) if req.step == "recheck" else reference_step(workdir, req)
        )
    except StepFailed as exc:
        report = StepReport(
            step=req.step, status=exc.status, message=exc.message, details=exc.details
        )
    report.nonce = nonce
    write_report(workdir, report)
    return 0
