"""report.json and report.md of `scripts/gpu-check`. Figures are copied from the stages'
records; a value that was not measured is written as "—", never as a number."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _num(value: Any, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _bench(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| problem | status | eager ms | torch.compile ms | solution ms | speedup | vs compile |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['problem']} | {r.get('status')} | {_num(r.get('ref_runtime_ms'), '.4f')} "
            f"| {_num(r.get('ref_compile_runtime_ms'), '.4f')} | {_num(r.get('runtime_ms'), '.4f')} "
            f"| {_num(r.get('speedup'), '.2f')} | {_num(r.get('speedup_vs_compile'), '.2f')} |"
        )
    return lines


def _agent(run: dict[str, Any]) -> list[str]:
    lines = ["| problem | status | best speedup | stopped because |", "|---|---|---|---|"]
    for p in run.get("problems", []):
        best = p.get("best") or {}
        lines.append(
            f"| {p.get('problem_id')} | {best.get('status', 'no correct kernel')} "
            f"| {_num(best.get('speedup'), '.2f')} | {p.get('stop_reason')} |"
        )
    return lines


def render(report: dict[str, Any]) -> str:
    out = ["# kernelwright GPU check", ""]
    if report.get("dry_run"):
        out += ["Dry run: install stage only, no GPU used; no GPU figure below.", ""]
    machine = report.get("machine", {})
    system = machine.get("system", {})
    out += [
        f"- started {report.get('started_utc')}, {report.get('duration_s')} s in all",
        f"- GPU: {system.get('gpu') or 'none'}; nvidia-smi: {machine.get('nvidia_smi') or 'n/a'}",
        f"- Python {machine.get('python')}, torch {system.get('torch')} (CUDA "
        f"{system.get('torch_cuda')}), triton {system.get('triton')}",
        f"- nvcc: {machine.get('nvcc') or 'n/a'}; ncu: {machine.get('ncu') or 'n/a'}",
        "",
        "| stage | status | s | result |",
        "|---|---|---|---|",
    ]
    out += [
        f"| {s['name']} | {s['status']} | {s['duration_s']} | {s['line']} |"
        for s in report["stages"]
    ]
    stages = {s["name"]: s for s in report["stages"]}
    tests = stages.get("tests", {}).get("detail") or {}
    for title, key in (("Test failures", "failures"), ("Skipped tests", "skips")):
        if tests.get(key):
            out += ["", f"## {title}", ""] + [f"- {item}" for item in tests[key]]
    rows = (stages.get("bench", {}).get("detail") or {}).get("rows")
    if rows:
        out += ["", "## Built-in solutions at default sizes", "", *_bench(rows)]
    run = (stages.get("agent", {}).get("detail") or {}).get("run")
    if run:
        out += ["", "## Baseline agent, 2 rounds", "", *_agent(run)]
    return "\n".join(out) + "\n"


def write_reports(outdir: Path, report: dict[str, Any]) -> None:
    (outdir / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    (outdir / "report.md").write_text(render(report), encoding="utf-8")
