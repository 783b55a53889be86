"""`kwright show RUN [PROBLEM]`: a past run's trajectory, round by round: the verdict, the
profile facts that changed, the Judge's advice and the diff from the candidate it built on;
`--json`; `--html --out FILE` writes one self-contained page with the same and a chart
(the speedup per round where a GPU timed it, else the static profile: registers, spills
and occupancy per kernel).

Read-only: the run directory is never written (unlike `ProblemDir.load`, which discards
partial attempts), so showing a run that is still going is safe; an unfinished attempt
(no attempt.json yet) is left out.
"""

from __future__ import annotations

import base64
import difflib
import io
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from agents.protocols import Feedback
from agents.rundir import ATTEMPT_FILE, AttemptRecord, RunDir, RunFileError, RunInfo, read_model
from kernelbench.protocol.result import EvalResult
from worker.cli.common import EXIT_OK, JsonFlag, console, fail, print_json
from worker.cli.runs_cmd import load_runs, local_time, model_of
from worker.config import get_settings

MAX_KERNELS_CHARTED = 8


def find_run(home: Path, wanted: str) -> tuple[RunDir, RunInfo]:
    """The run `wanted` names: its id, or a prefix of exactly one run's id."""
    runs, _ = load_runs(home)
    exact = [pair for pair in runs if pair[1].run_id == wanted]
    matches = exact or [pair for pair in runs if pair[1].run_id.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        fail(f"no run {wanted} in {home / 'runs'} (see kwright runs)")
    names = ", ".join(info.run_id for _, info in matches[:5])
    fail(f"{wanted} names {len(matches)} runs ({names}); give more of the id")


def kernel_facts(result: EvalResult | None) -> dict[str, dict[str, Any]]:
    """Per kernel of the static profile: the facts `show` follows from round to round."""
    if result is None or result.profile is None:
        return {}
    facts: dict[str, dict[str, Any]] = {}
    for k in result.profile.kernels:
        spill = None
        if k.spill_stores_bytes is not None or k.spill_loads_bytes is not None:
            spill = (k.spill_stores_bytes or 0) + (k.spill_loads_bytes or 0)
        values = {
            "registers": k.registers_per_thread,
            "spill B": spill,
            "occupancy": k.occupancy_pct,
            "limited by": k.occupancy_limiter.value if k.occupancy_limiter else None,
            "shared B": k.shared_mem_bytes,
            "threads/block": k.block_size,
            "warps": k.num_warps,
            "stages": k.num_stages,
        }
        facts[k.name] = {n: v for n, v in values.items() if v is not None}
    return facts


def profile_changes(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> list[str]:
    """'k0: registers 18 -> 26' per fact that changed; kernels that came or went."""
    lines = []
    for name, facts in after.items():
        old = before.get(name)
        if old is None:
            lines.append(f"{name}: new kernel ({fact_text(facts)})")
            continue
        lines += [
            f"{name}: {fact} {value_text(fact, old.get(fact, '-'))} -> {value_text(fact, value)}"
            for fact, value in facts.items()
            if old.get(fact) != value
        ]
    return lines + [f"{name}: gone" for name in before if name not in after]


def value_text(fact: str, value: Any) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text + "%" if fact == "occupancy" else text


def fact_text(facts: dict[str, Any]) -> str:
    return ", ".join(f"{fact} {value_text(fact, value)}" for fact, value in facts.items())


def verdict_text(record: AttemptRecord, result: EvalResult | None) -> str:
    if record.status == "no_candidate":
        why = (record.reason or "").removeprefix("no candidate: ")
        return f"no candidate ({why})" if why else "no candidate"
    text = str(record.status)
    if record.speedup is not None:
        text += f", {record.speedup:.2f}x"
    elif record.correct:
        text += ", not timed" + (" (CPU)" if result is not None and result.device == "cpu" else "")
    reason = record.reason or (result.reason if result is not None else None)
    return text + (f": {reason}" if reason and not record.correct else "")


def advice_text(record: AttemptRecord, feedback: Feedback | None) -> str:
    if feedback is None:
        return record.advice or "not judged"
    parts = [f"({feedback.mode}) {feedback.summary.rstrip('.')}"]
    if feedback.critical_issue and feedback.critical_issue not in feedback.summary:
        parts.append(f"issue: {feedback.critical_issue}")
    if feedback.minimal_fix:
        parts.append(f"fix: {feedback.minimal_fix}")
    parts += [f"plan: {step}" for step in feedback.plan if step != feedback.summary]
    asked = feedback.params.get("kernels")
    if isinstance(asked, dict):
        for name, knobs in asked.items():
            knobs_text = (
                ", ".join(f"{k}={v}" for k, v in knobs.items())
                if isinstance(knobs, dict)
                else knobs
            )
            parts.append(f"asks {name}: {knobs_text}")
    if feedback.stop:
        parts.append("the Judge stops here")
    return "; ".join(parts)


def attempt_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(
        d
        for d in root.iterdir()
        if d.is_dir() and d.name.isdigit() and (d / ATTEMPT_FILE).is_file()
    )


def trajectory(rundir: RunDir, info: RunInfo, problem_id: str) -> dict[str, Any]:
    """One problem's rounds, as `--json` prints them and the text and page show them."""
    rounds: list[dict[str, Any]] = []
    sources: dict[int, str] = {}  # attempt -> its candidate; a diff is from the parent
    facts_of: dict[int, dict[str, dict[str, Any]]] = {}
    last: int | None = None  # the latest attempt with code (the parent where none is named)
    last_facts: int | None = None
    for d in attempt_dirs(rundir.problem(problem_id).root):
        record = read_model(AttemptRecord, d / ATTEMPT_FILE)
        result = read_model(EvalResult, d / "eval.json") if (d / "eval.json").is_file() else None
        feedback = (
            read_model(Feedback, d / "feedback.json") if (d / "feedback.json").is_file() else None
        )
        cand = d / "candidate.py"
        source = cand.read_text(encoding="utf-8") if cand.is_file() else None
        facts = kernel_facts(result)
        diff, base = None, record.parent if record.parent in sources else last
        base_facts = facts_of.get(record.parent if record.parent in facts_of else last_facts or 0)
        if source is not None and base is not None:
            diff = "".join(difflib.unified_diff(
                sources[base].splitlines(keepends=True), source.splitlines(keepends=True),
                f"{base:03d}/candidate.py", f"{record.attempt:03d}/candidate.py",
            ))  # fmt: skip
        rounds.append(
            {
                "attempt": record.attempt,
                "round": record.round,
                "index": record.index,
                "status": str(record.status),
                "correct": record.correct,
                "speedup": record.speedup,
                "runtime_ms": result.runtime_ms if result is not None else None,
                "verdict": verdict_text(record, result),
                "profile": facts,
                "profile_changed": None
                if base_facts is None or not facts
                else profile_changes(base_facts, facts),
                "parent": record.parent,
                "direction": record.direction,
                "judge": feedback.model_dump(mode="json") if feedback is not None else None,
                "advice": advice_text(record, feedback),
                "candidate": str(cand) if source is not None else None,
                "candidate_lines": len(source.splitlines()) if source is not None else None,
                "diff_from": base if diff is not None else None,
                "diff": diff,
            }
        )
        if source is not None:
            sources[record.attempt], last = source, record.attempt
        if facts:
            facts_of[record.attempt], last_facts = facts, record.attempt
    r = info.results.get(problem_id)
    return {
        "problem_id": problem_id,
        "status": r.status if r is not None else "not finished",
        "stop_reason": r.stop_reason if r is not None else "",
        "best": r.best.model_dump(mode="json") if r is not None and r.best is not None else None,
        "rounds": rounds,
    }


def show_data(rundir: RunDir, info: RunInfo, problems: list[str]) -> dict[str, Any]:
    return {
        "run_id": info.run_id,
        "run_dir": str(rundir.root),
        "created_at": info.created_at,
        "started": local_time(info.created_at),
        "status": info.status,
        "agent": info.config.agent,
        "model": model_of(info),
        "backend": info.config.backend,
        "device": info.device,
        "problems": [trajectory(rundir, info, pid) for pid in problems],
    }


def best_line(p: dict[str, Any]) -> str:
    best = p["best"]
    text = (
        "no correct kernel"
        if best is None
        else f"best: attempt {best['attempt']:03d}, {best['status']}"
    )
    if best is not None and best["speedup"] is not None:
        text += f" {best['speedup']:.2f}x"
    return f"{text}; {p['status']}" + (f" ({p['stop_reason']})" if p["stop_reason"] else "")


def diff_text(diff: str) -> Text:
    text = Text()
    for line in diff.splitlines():
        style = "green" if line.startswith("+") else "red" if line.startswith("-") else None
        text.append("    " + line + "\n", style="cyan" if line.startswith("@@") else style)
    return text


def print_text(data: dict[str, Any], with_diff: bool) -> None:
    say = console.print
    say(Text(f"run {data['run_id']}: {data['status']}, agent {data['agent']}"
             + (f" ({data['model']})" if data["model"] else "") + f", {data['run_dir']}"))  # fmt: skip
    for p in data["problems"]:
        say(
            Text(
                f"\n{p['problem_id']}: {len(p['rounds'])} attempt(s); {best_line(p)}", style="bold"
            )
        )
        for a in p["rounds"]:
            index = f".{a['index']}" if a["index"] else ""
            say(Text(f"round {a['round']}{index} (attempt {a['attempt']:03d}): {a['verdict']}"))
            if a["profile"] and a["profile_changed"] is None:
                for name, facts in a["profile"].items():
                    say(Text(f"  profile: {name}: {fact_text(facts)}"))
            elif a["profile_changed"] is not None:
                say(Text("  profile: " + ("; ".join(a["profile_changed"]) or "unchanged")))
            say(Text(f"  Judge: {a['advice']}"))
            if a["candidate"] is None:
                continue
            if a["diff_from"] is None:
                say(
                    Text(f"  candidate: {a['candidate']} ({a['candidate_lines']} lines, the first)")
                )
            elif not a["diff"]:
                say(
                    Text(
                        f"  candidate: {a['candidate']} (the same as attempt {a['diff_from']:03d})"
                    )
                )
            else:
                say(Text(f"  candidate: {a['candidate']}, diff from attempt {a['diff_from']:03d}:"))
                if with_diff:
                    say(diff_text(a["diff"]), end="")


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode()


def chart(p: dict[str, Any]) -> tuple[str | None, str]:
    """(base64 PNG, caption) of one problem's trajectory; (None, why) where there is none."""
    from matplotlib.figure import Figure  # noqa: PLC0415 - heavy library, imported where used

    rounds = p["rounds"]
    xs = [a["attempt"] for a in rounds]
    if any(a["speedup"] is not None for a in rounds):
        fig = Figure(figsize=(7.5, 3.2), layout="constrained")
        ax = fig.add_subplot()
        timed = [(a["attempt"], a["speedup"]) for a in rounds if a["speedup"] is not None]
        ax.plot(
            [t[0] for t in timed],
            [t[1] for t in timed],
            "o-",
            color="#2b6cb0",
            label="correct, timed",
        )
        failed = [a["attempt"] for a in rounds if not a["correct"]]
        ax.plot(failed, [0.0] * len(failed), "x", color="#c53030", label="not correct")
        ax.axhline(1.0, color="#888", linestyle="--", linewidth=1, label="the reference (1x)")
        ax.set(xlabel="attempt", ylabel="speedup (x)", xticks=xs)
        ax.legend(loc="best", fontsize="small")
        return _png(fig), "Speedup per attempt, measured on the GPU (0: not correct)."
    kernels = list(dict.fromkeys(name for a in rounds for name in a["profile"]))[
        :MAX_KERNELS_CHARTED
    ]
    if not kernels:
        return None, "no attempt was timed or profiled"
    fig = Figure(figsize=(7.5, 5.4), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    for ax, fact in zip(axes, ("registers", "spill B", "occupancy"), strict=True):
        for name in kernels:
            points = [(a["attempt"], a["profile"][name][fact]) for a in rounds
                      if fact in a["profile"].get(name, {})]  # fmt: skip
            ax.plot([x for x, _ in points], [y for _, y in points], "o-", label=name)
        top = max((y for line in ax.get_lines() for y in line.get_ydata()), default=0)
        ax.set_ylim(0, 105 if fact == "occupancy" else max(1.0, float(top) * 1.15))
        ax.set_ylabel(fact + (" %" if fact == "occupancy" else ""))
    axes[0].legend(loc="best", fontsize="small")
    axes[-1].set(xlabel="attempt", xticks=xs)
    caption = (
        "Static profile per attempt (no GPU timed these candidates): registers per "
        "thread, spilled bytes, theoretical occupancy, per kernel."
    )
    return _png(fig), caption


def diff_rows(diff: str | None) -> list[tuple[str, str]]:
    def kind(line: str) -> str:
        if line.startswith(("+++", "---")):
            return "file"
        return {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "ctx")

    return [(kind(line), line) for line in (diff or "").splitlines()]


def render_html(data: dict[str, Any]) -> str:
    from jinja2 import Environment, PackageLoader  # noqa: PLC0415 - heavy library, imported where used

    env = Environment(loader=PackageLoader("worker", "templates"), autoescape=True)
    problems = []
    for p in data["problems"]:
        png, caption = chart(p)
        rows = []
        for a in p["rounds"]:
            diff = diff_rows(a["diff"])
            rows.append((a, sum(kind in {"add", "del"} for kind, _ in diff), diff))
        problems.append(
            {"p": p, "png": png, "caption": caption, "best": best_line(p), "rounds": rows}
        )
    return env.get_template("show.html.j2").render(
        data=data, problems=problems, fact_text=fact_text
    )


def show_command(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="A run id (or a prefix of one).")],
    problem: Annotated[
        str | None, typer.Argument(metavar="[PROBLEM]", help="Only this problem (default: all).")
    ] = None,
    html: Annotated[bool, typer.Option("--html", help="Write an HTML page (needs --out).")] = False,
    out: Annotated[Path | None, typer.Option(help="Where --html writes the page.")] = None,
    no_diff: Annotated[
        bool, typer.Option("--no-diff", help="Name the changed candidates; print no diffs.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """A past run's trajectory per round: verdict, profile changes, the Judge's advice, diffs."""
    if html and out is None:
        fail("--html needs --out FILE")
    if out is not None and not html:
        fail("--out is for --html")
    if html and as_json:
        fail("--html and --json: choose one")
    rundir, info = find_run(get_settings().home, run_id)
    problems = info.problems
    if problem is not None:
        if problem not in problems:
            fail(f"run {info.run_id} has no problem {problem} (it has: {', '.join(problems)})")
        problems = [problem]
    try:
        data = show_data(rundir, info, problems)
    except (RunFileError, OSError, ValueError) as exc:
        fail(f"run {info.run_id}: {exc}")
    if as_json:
        print_json(data)
    elif html and out is not None:
        try:
            out.write_text(render_html(data), encoding="utf-8")
        except OSError as exc:
            fail(f"--out {out}: {exc.strerror or exc}")
        console.print(Text(f"wrote {out}"))
    else:
        print_text(data, with_diff=not no_diff)
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    app.command("show")(show_command)
