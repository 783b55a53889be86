"""KernelBench's own files, in and out, so published runs stand beside kernelwright's.

In: a KernelBench run folder (`runs/<run_name>/` as its `scripts/eval_from_generations.py`
writes it): `eval_results.json` maps a problem number to a list of samples, each with
`sample_id`, `compiled`, `correctness`, `metadata`, `runtime`, `runtime_stats` (and, in
newer versions, `ref_runtime`); kernels sit beside it as
`level_<L>_problem_<N>_sample_<S>_kernel.py`. As KernelBench's analysis does, sample 0
counts. The speedup is ref / runtime, ref from the sample's `ref_runtime` or else from a
KernelBench baseline timing file (`results/timing/<hardware>/<baseline>.json`: level ->
problem file name -> `mean`).

Out: per row and level, a folder KernelBench users know: `eval_results.json` and the
kernels in KernelBench's names, a `baseline_time.json` in its timing-file shape (so its
`benchmark_eval_analysis.py ... baseline_file=... eval_results_dir=...` reproduces the
numbers), and `analysis.json` with the keys that script writes. Both record the policy the
row was judged under and the precision (each sample's `metadata`, and `analysis.json`'s
`policy` and `precision`). An imported run is a `kernelbench`-policy row.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from kernelbench.protocol.result import Status
from worker.leaderboard.board import Board
from worker.leaderboard.collect import Entries
from worker.leaderboard.metrics import row_stats
from worker.leaderboard.records import (
    P_VALUES,
    Entry,
    Missing,
    RowKey,
    RowStats,
    level_of,
    p_label,
)

_NUMBERED = re.compile(r"^level(\d+)/(\d+)_")


class KernelBenchFormatError(ValueError):
    """A KernelBench file that cannot be read; the message names it and the fault."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KernelBenchFormatError(f"{path}: cannot read: {exc.strerror}") from exc
    except ValueError as exc:
        raise KernelBenchFormatError(f"{path}: not JSON: {exc}") from exc


def _timing(path: Path | None, level: int) -> tuple[dict[int, tuple[str, float]], str | None]:
    """problem number -> (file stem, mean time), and the hardware the file names."""
    if path is None:
        return {}, None
    data = _read_json(path)
    table = data.get(f"level{level}") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise KernelBenchFormatError(f"{path}: no 'level{level}' table of problem timings")
    out: dict[int, tuple[str, float]] = {}
    hardware = None
    for name, stats in table.items():
        head = str(name).split("_", 1)[0]
        if (
            head.isdigit()
            and isinstance(stats, dict)
            and isinstance(stats.get("mean"), int | float)
        ):
            out[int(head)] = (str(name).removesuffix(".py"), float(stats["mean"]))
            hardware = hardware or stats.get("hardware")
    return out, hardware


def import_run(
    run_dir: Path,
    level: int,
    *,
    timing_file: Path | None = None,
    gpu: str | None = None,
    suite_ids: list[str] | None = None,
) -> tuple[RowKey, dict[str, Entry]]:
    """One KernelBench run as one row (agent `kernelbench`, model = the run's name)."""
    results = _read_json(run_dir / "eval_results.json")
    if not isinstance(results, dict):
        raise KernelBenchFormatError(f"{run_dir / 'eval_results.json'}: expected an object")
    timing, hardware = _timing(timing_file, level)
    by_number = {}
    for pid in suite_ids or []:
        m = _NUMBERED.match(pid)
        if m and int(m.group(1)) == level:
            by_number[int(m.group(2))] = pid
    entries: dict[str, Entry] = {}
    for key, samples in results.items():
        if not str(key).isdigit():
            raise KernelBenchFormatError(f"{run_dir}: problem key {key!r} is not a number")
        number = int(key)
        rows = samples if isinstance(samples, list) else [samples]
        sample = next((s for s in rows if isinstance(s, dict) and s.get("sample_id", 0) == 0), None)
        if sample is None:
            continue
        pid = by_number.get(number) or (
            f"level{level}/{timing[number][0]}" if number in timing else f"level{level}/{number}"
        )
        correct = bool(sample.get("correctness"))
        runtime = float(sample.get("runtime") or -1)
        ref = float(sample.get("ref_runtime") or -1)
        if ref <= 0 and number in timing:
            ref = timing[number][1]
        speedup = ref / runtime if correct and runtime > 0 and ref > 0 else None
        kernel = run_dir / f"level_{level}_problem_{number}_sample_0_kernel.py"
        entries[pid] = Entry(
            problem_id=pid,
            status=Status.CORRECT
            if correct
            else (Status.INCORRECT if sample.get("compiled") else Status.COMPILE_ERROR),
            compiled=bool(sample.get("compiled")),
            correct=correct,
            speedup=speedup,
            runtime_ms=runtime if speedup is not None else None,
            rounds=1,
            first_correct_round=1 if correct else None,
            kernel=str(kernel) if kernel.is_file() else None,
            run_dir=str(run_dir),
        )
    # KernelBench's harness judges under its own rule: the kernelbench policy.
    key = RowKey(
        agent="kernelbench",
        model=run_dir.name,
        gpu=gpu or hardware or "?",
        device="cuda",
        policy="kernelbench",
    )
    return key, entries


def _slug(key: RowKey) -> str:
    parts = [key.agent, key.model, key.gpu, key.device]
    parts += [] if key.precision == "fp32" else [key.precision]  # a row of its own, a folder too
    return "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", part) for part in parts)


def _analysis(
    name: str, level: int, stats: RowStats, row: dict[str, Entry], ids: list[str]
) -> dict[str, Any]:
    """The keys KernelBench's benchmark_eval_analysis.py writes (null where untimed)."""
    return {
        "run_name": name,
        "level": level,
        "hardware": stats.key.gpu,
        "policy": stats.key.policy,
        "precision": stats.key.precision,
        "total_count": len(ids),
        "total_eval": sum(1 for pid in ids if pid in row and row[pid].finished),
        "compiled_count": stats.compiled.n,
        "correct_count": stats.correct.n,
        "compilation_rate": stats.compiled.value,
        "correctness_rate": stats.correct.value,
        "geo_mean_speedup": stats.geomean.value if stats.geomean else None,
        "fast_p": {
            str(p): (r.value if (r := stats.fast_p[p_label(p)]) else None) for p in P_VALUES
        },
    }


def _write_level(
    folder: Path, key: RowKey, level: int, row: dict[str, Entry], ids: list[str]
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {}
    timing: dict[str, dict[str, Any]] = {}
    for pid in ids:
        number = int(_NUMBERED.match(pid).group(2))  # type: ignore[union-attr]
        e = row.get(pid) or Entry(problem_id=pid, status=Missing.NOT_ATTEMPTED)
        timed = e.runtime_ms is not None and e.speedup is not None
        results[str(number)] = [
            {
                "sample_id": 0,
                "compiled": e.compiled,
                "correctness": e.correct,
                "metadata": {
                    "kernelwright_status": e.status,
                    "problem_id": pid,
                    "policy": key.policy,
                    "precision": key.precision,
                },
                "runtime": e.runtime_ms if timed else -1.0,
                "runtime_stats": {},
            }
        ]
        if timed:  # a reference time that gives back the board's speedup
            mean = e.runtime_ms * e.speedup  # type: ignore[operator]
            timing[pid.split("/", 1)[1] + ".py"] = {"mean": mean, "hardware": key.gpu}
        if e.kernel and Path(e.kernel).is_file():
            shutil.copyfile(e.kernel, folder / f"level_{level}_problem_{number}_sample_0_kernel.py")
    analysis = _analysis(folder.name, level, row_stats(key, row, ids), row, ids)
    (folder / "eval_results.json").write_text(json.dumps(results, indent=4) + "\n")
    (folder / "baseline_time.json").write_text(
        json.dumps({f"level{level}": timing}, indent=4) + "\n"
    )
    (folder / "analysis.json").write_text(json.dumps(analysis, indent=2) + "\n")


def export(board: Board, entries: Entries, out_dir: Path) -> list[Path]:
    """Write KernelBench-shaped run folders, one per row and level; returns them."""
    written: list[Path] = []
    levels = sorted({lv for pid in board.problem_set.ids if (lv := level_of(pid)) is not None})
    for stats in board.rows:
        for level in levels:
            ids = [
                pid
                for pid in board.problem_set.ids
                if (m := _NUMBERED.match(pid)) and int(m.group(1)) == level
            ]
            folder = out_dir / f"{_slug(stats.key)}_level{level}"
            _write_level(folder, stats.key, level, entries[stats.key], ids)
            written.append(folder)
    return written
