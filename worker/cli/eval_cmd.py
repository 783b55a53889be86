"""`kwright eval PROBLEM CANDIDATE`: check one candidate kernel against a problem."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kernelbench.problems.problem import Problem, ProblemError
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.policy import Policy
from kernelbench.protocol.request import Backend, Device, EvalOptions, Precision
from kernelbench.protocol.result import ErrorKind, EvalResult, Status
from worker.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_NOT_CORRECT,
    EXIT_OK,
    JsonFlag,
    console,
    fail,
    open_sandbox,
    print_json,
)

# alias -> (wrong twin?, backend of the hand-written file)
SOLUTION_ALIASES = {
    "@solution": (False, "triton"),
    "@wrong": (True, "triton"),
    "@solution-cuda": (False, "cuda"),
    "@wrong-cuda": (True, "cuda"),
}


def read_candidate(spec: str, problem: Problem) -> tuple[Path, str]:
    """A candidate file path, or @solution / @wrong (Triton) / @solution-cuda / @wrong-cuda
    (CUDA C) for a built-in problem's own files."""
    path = (
        solution_path(problem, wrong=SOLUTION_ALIASES[spec][0], backend=SOLUTION_ALIASES[spec][1])
        if spec in SOLUTION_ALIASES
        else Path(spec).expanduser()
    )
    if not path.is_file():
        raise ProblemError(f"{path}: no such candidate file")
    try:
        return path, path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemError(f"{path}: cannot read candidate: {exc}") from exc


def load_inputs(problem: str, candidate: str, suite: Path | None) -> tuple[Problem, Path, str]:
    """The problem and the candidate's path and source the arguments name; exit 2 if not."""
    try:
        prob = resolve_problem(problem, suite)
        return (prob, *read_candidate(candidate, prob))
    except ProblemError as exc:
        fail(str(exc))


def run_harness(
    problem: Problem,
    source: str,
    options: EvalOptions,
    sandbox: str | None,
    keep: Path | None = None,
) -> EvalResult:
    """The harness's verdict on `source`, run in the sandbox `--sandbox` names."""
    box = open_sandbox(sandbox)
    from kernelbench.harness.evaluate import (  # torch: once the input is good  # noqa: PLC0415 - heavy library, imported where used
        GpuUnavailable,
        evaluate,
    )

    with box:
        try:
            return evaluate(problem, source, options, box, keep_dir=keep)
        except GpuUnavailable as exc:
            fail(str(exc))


def is_bad_input(result: EvalResult) -> bool:
    """The problem or the candidate file itself is unusable (exit 2, not a verdict)."""
    return result.status == Status.ERROR and result.error_kind in (
        ErrorKind.BAD_PROBLEM,
        ErrorKind.BAD_CANDIDATE_FILE,
    )


def exit_code(result: EvalResult) -> int:
    if result.status == Status.CORRECT:
        return EXIT_OK
    return EXIT_BAD_INPUT if is_bad_input(result) else EXIT_NOT_CORRECT


def render(result: EvalResult, candidate: Path) -> None:
    color = {"correct": "green", "incorrect": "red", "not_run": "yellow"}.get(
        result.status.value, "red"
    )
    lines = [f"[bold {color}]{result.status.value}[/]  {result.problem_id}  <-  {candidate}"]
    if result.reason:
        lines.append(f"reason: {result.reason}")
    lines.append(
        f"backend {result.backend}, device {result.device}, policy {result.policy}, "
        f"sandbox {result.sandbox}, "
        f"{result.duration_s or 0:.1f} s"
    )
    if result.speedup is not None:
        lines.append(
            f"runtime {result.runtime_ms:.4f} ms vs reference {result.ref_runtime_ms:.4f} ms: "
            f"speedup {result.speedup:.2f}x"
        )
    elif result.timing_note:
        lines.append(f"timing: {result.timing_note}")
    checks = ["blind: judged on a replay, host code saw stand-ins"] if result.blind else []
    if result.verified_arch:
        checks.append(f"every kernel compiled for {result.verified_arch} before the replay")
    elif result.verify_note:
        checks.append(result.verify_note)
    if checks:
        lines.append("checks: " + "; ".join(checks))
    for flag in result.flags:
        lines.append(f"[yellow]flag:[/] {flag}")
    console.print(Panel("\n".join(lines), title="kwright eval", expand=False))
    if result.trials:
        table = Table(show_edge=False)
        for col in ("trial", "seed", "sizes", "ok", "max abs err", "detail"):
            table.add_column(col)
        for t in result.trials:
            err = max((o.max_abs_err or 0.0 for o in t.outputs), default=None)
            table.add_row(
                str(t.trial),
                str(t.seed),
                ", ".join(f"{k}={v}" for k, v in t.sizes.items()),
                "[green]yes[/]" if t.ok else "[red]no[/]",
                "" if err is None else f"{err:.3g}",
                t.reason or "",
            )
        console.print(table)
    if result.profile is not None:
        summary = Text(result.profile.summary(1500))
        console.print(Panel(summary, title=f"profile ({result.profile.arch})", expand=False))
    if result.status not in (Status.CORRECT, Status.INCORRECT) and result.messages:
        console.print(Panel(result.messages[-4000:], title="messages", expand=False), markup=False)


def eval_command(
    problem: Annotated[
        str, typer.Argument(help="Problem id (levelN/<name>) or path to a problem .py.")
    ],
    candidate: Annotated[
        str,
        typer.Argument(
            help="Candidate .py file, or @solution / @wrong (Triton), @solution-cuda / "
            "@wrong-cuda (CUDA C) for a built-in problem's reference solution / wrong twin."
        ),
    ],
    backend: Annotated[
        Backend | None, typer.Option(help="Kernel language; default: detected from the file.")
    ] = None,
    device: Annotated[
        Device | None,
        typer.Option(help="Default: cuda when a GPU is visible, else cpu (Triton interpreter)."),
    ] = None,
    sandbox: Annotated[
        str | None, typer.Option(help="local | docker | none (default: $KWRIGHT_SANDBOX or local).")
    ] = None,
    timeout: Annotated[float, typer.Option(min=1.0, help="Seconds per harness step.")] = 300.0,
    suite: Annotated[
        Path | None, typer.Option(help="Resolve PROBLEM in this KernelBench-shaped folder.")
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option(min=1, help="Seeded trials on the first shape (default 3 on CPU, 5 on GPU)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Fix the seeds (debugging; default: fresh random seeds).")
    ] = None,
    policy: Annotated[
        Policy,
        typer.Option(
            help="strict: all compute in custom kernels; kernelbench: torch ops may stay, "
            "every forward launches a custom kernel."
        ),
    ] = "strict",
    allow_torch_ops: Annotated[
        bool,
        typer.Option(help="The old name of --policy kernelbench."),
    ] = False,
    precision: Annotated[
        Precision,
        typer.Option(help="fp32 | fp16 | bf16: inputs and weights cast to it (KernelBench's)."),
    ] = "fp32",
    torch_compile: Annotated[
        bool, typer.Option(help="On a GPU, also time torch.compile of the reference.")
    ] = False,
    profile: Annotated[
        bool, typer.Option(help="Attach the static profile (an nvcc/ptxas compile for sm_90).")
    ] = True,
    keep: Annotated[
        Path | None, typer.Option(help="Copy the scratch directories here (debugging).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check CANDIDATE against PROBLEM: correctness on fresh seeds and shapes; timing on a GPU."""
    prob, cand_path, source = load_inputs(problem, candidate, suite)
    options = EvalOptions(
        backend=backend,
        device=device,
        timeout_s=timeout,
        trials=trials,
        seed=seed,
        policy=policy,
        allow_torch_ops=allow_torch_ops,
        compare_torch_compile=torch_compile,
        precision=precision,
        profile=profile,
    )
    result = run_harness(prob, source, options, sandbox, keep)
    if as_json:
        print_json(result)
    else:
        render(result, cand_path)
    if is_bad_input(result):
        fail(result.reason or "bad input", json_error=False)  # the result said it on stdout
    raise typer.Exit(exit_code(result))


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
