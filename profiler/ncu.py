"""Nsight Compute on a GPU: a curated metric set, the command line, and its CSV parsed into
the same ProfileReport the static profiler fills.

Running ncu needs a CUDA GPU and Nsight Compute; nothing here runs one on a machine
without them (`find_ncu()` is None and the profile says so). The launch is kept small and
isolated: `build_command` (pure), `run_ncu` (one subprocess, a timeout, the
ERR_NVGPUCTRPERM case told apart) and `run_ncu_for_step` (used by the sandboxed profile
step on a GPU). The parsers read both CSV layouts `ncu --csv` prints:

* `--page raw`: one header row of metric names (after the ID/Process/Kernel Name/... id
  columns), one row of units, then one row per profiled kernel launch; numbers carry
  thousands separators ("1,410,000");
* `--page details` (the default, "sections"): one row per (launch, section, metric) with
  "Section Name", "Metric Name", "Metric Unit", "Metric Value", plus rule rows ("Rule Name",
  "Rule Description", "Estimated Speedup") whose metric fields are empty.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel, Field

from profiler.protocol import NcuJob
from profiler.report import FactSource, KernelProfile, ProfileReport
from sandbox.settings import host_settings

log = logging.getLogger(__name__)

NEEDS_GPU = "ncu: needs a CUDA GPU and Nsight Compute; static facts only"
PERMISSION_ERROR = (
    "ncu: no permission to read the GPU performance counters (ERR_NVGPUCTRPERM). Run as "
    "root / with CAP_SYS_ADMIN, or load the driver with NVreg_RestrictProfilingToAdminUsers=0 "
    "(https://developer.nvidia.com/ERR_NVGPUCTRPERM); static facts only"
)

# The curated metric set. Started from CudaForge's 24 (the counters its Judge reads) and
# grouped by the question each answers; all are `ncu --query-metrics` names documented in
# the Nsight Compute Profiling Guide.
CURATED_METRICS: dict[str, str] = {
    # time and work
    "gpu__time_duration.sum": "kernel duration (ns)",
    "sm__cycles_active.avg": "cycles an SM was active",
    "sm__inst_executed.sum": "warp instructions executed",
    # occupancy and its limiters
    "sm__warps_active.avg.pct_of_peak_sustained_active": "achieved occupancy (%)",
    "sm__maximum_warps_per_active_cycle_pct": "theoretical occupancy (%)",
    "launch__occupancy_limit_blocks": "blocks/SM allowed by the block limit",
    "launch__occupancy_limit_registers": "blocks/SM allowed by registers",
    "launch__occupancy_limit_shared_mem": "blocks/SM allowed by shared memory",
    "launch__occupancy_limit_warps": "blocks/SM allowed by warps",
    "launch__registers_per_thread": "registers per thread",
    # compute pipes
    "sm__throughput.avg.pct_of_peak_sustained_elapsed": "SM throughput (% of peak)",
    "sm__inst_executed_pipe_fp32.avg.pct_of_peak_sustained_active": "FP32 pipe utilization (%)",
    "sm__inst_executed_pipe_tensor.avg.pct_of_peak_sustained_active": "tensor pipe utilization (%)",
    # memory
    "dram__bytes_read.sum": "DRAM bytes read",
    "dram__bytes_write.sum": "DRAM bytes written",
    "dram__throughput.avg.pct_of_peak_sustained_elapsed": "DRAM throughput (% of peak)",
    "dram__bytes.sum.per_second": "DRAM bandwidth (bytes/s)",
    "gpu__dram_throughput.avg.pct_of_peak_sustained_elapsed": "GPU DRAM throughput (% of peak)",
    "l1tex__t_sector_hit_rate.pct": "L1 hit rate (%)",
    "l1tex__throughput.avg.pct_of_peak_sustained_active": "L1 throughput (% of peak)",
    "lts__t_sector_hit_rate.pct": "L2 hit rate (%)",
    "lts__throughput.avg.pct_of_peak_sustained_active": "L2 throughput (% of peak)",
    "l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum": "shared-memory bank conflicts",
    # warp stalls (% of active warps stalled on ...)
    "smsp__warp_issue_stalled_memory_dependency_per_warp_active.pct": "stall: memory dependency",
    "smsp__warp_issue_stalled_short_scoreboard_per_warp_active.pct": "stall: short scoreboard (shared mem)",
    "smsp__warp_issue_stalled_long_scoreboard_per_warp_active.pct": "stall: long scoreboard (global mem)",
    "smsp__warp_issue_stalled_barrier_per_warp_active.pct": "stall: barrier",
    "smsp__warp_issue_stalled_branch_resolving_per_warp_active.pct": "stall: branch resolving",
    "smsp__warp_issue_stalled_mio_throttle_per_warp_active.pct": "stall: MIO throttle",
    "smsp__warp_issue_stalled_math_pipe_throttle_per_warp_active.pct": "stall: math pipe throttle",
    "smsp__sass_average_branch_targets_threads_uniform.pct": "uniform branch targets (%)",
}

# Headline facts for the Judge, from either layout: short name -> (raw metric, section metric).
HEADLINE: dict[str, tuple[str, str]] = {
    "duration_ns": ("gpu__time_duration.sum", "Duration"),
    "achieved_occupancy_pct": (
        "sm__warps_active.avg.pct_of_peak_sustained_active",
        "Achieved Occupancy",
    ),
    "sm_throughput_pct": (
        "sm__throughput.avg.pct_of_peak_sustained_elapsed",
        "Compute (SM) Throughput",
    ),
    "dram_throughput_pct": (
        "dram__throughput.avg.pct_of_peak_sustained_elapsed",
        "DRAM Throughput",
    ),
    "memory_throughput_pct": (
        "gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed",
        "Memory Throughput",
    ),
    "l1_hit_rate_pct": ("l1tex__t_sector_hit_rate.pct", "L1/TEX Hit Rate"),
    "l2_hit_rate_pct": ("lts__t_sector_hit_rate.pct", "L2 Hit Rate"),
    "tensor_pipe_pct": ("sm__inst_executed_pipe_tensor.avg.pct_of_peak_sustained_active", ""),
    "stall_long_scoreboard_pct": (
        "smsp__warp_issue_stalled_long_scoreboard_per_warp_active.pct",
        "",
    ),
    "stall_barrier_pct": ("smsp__warp_issue_stalled_barrier_per_warp_active.pct", ""),
    "theoretical_occupancy_pct": (
        "sm__maximum_warps_per_active_cycle_pct",
        "Theoretical Occupancy",
    ),
    "registers_per_thread": ("launch__registers_per_thread", "Registers Per Thread"),
}

_ID_COLUMNS = {
    "ID",
    "Process ID",
    "Process Name",
    "Host Name",
    "Kernel Name",
    "Context",
    "Stream",
    "Block Size",
    "Grid Size",
    "Device",
    "CC",
}


class NcuLaunch(BaseModel):
    """One profiled kernel launch."""

    id: str
    kernel: str  # as ncu prints it (may carry a parameter list)
    block_size: str | None = None
    grid_size: str | None = None
    cc: str | None = None
    metrics: dict[str, float | str] = Field(default_factory=dict)
    units: dict[str, str] = Field(default_factory=dict)
    rules: list[str] = Field(default_factory=list)  # ncu's rule advice, most speedup first

    @property
    def base_name(self) -> str:
        """The name without parameters or template arguments (`ns::k<4>(float *)` -> `ns::k`)."""
        name = self.kernel.split("(", 1)[0].strip()
        return re.sub(r"<.*>", "", name).strip()


class NcuParseError(ValueError):
    """The text holds no ncu CSV this parser knows."""


def parse_value(text: str) -> float | str:
    """'1,410,000' -> 1410000.0; '86.94' -> 86.94; anything else stays text."""
    cleaned = text.strip().replace(",", "")
    try:
        return float(cleaned)
    except ValueError:
        return text.strip()


def _csv_rows(text: str) -> list[list[str]]:
    lines = [ln for ln in text.splitlines() if ln.startswith('"')]
    return list(csv.reader(io.StringIO("\n".join(lines))))


def parse_ncu_csv(text: str) -> list[NcuLaunch]:
    """Launches in the order ncu profiled them, from either CSV layout."""
    rows = _csv_rows(text)
    if not rows:
        raise NcuParseError("no CSV rows in the ncu output")
    header = rows[0]
    if "Metric Name" in header and "Metric Value" in header:
        return _parse_sections(header, rows[1:])
    if "Kernel Name" in header:
        return _parse_raw(header, rows[1:])
    raise NcuParseError(f"unknown ncu CSV header: {header[:6]}")


def _parse_raw(header: list[str], rows: list[list[str]]) -> list[NcuLaunch]:
    col = {name: i for i, name in enumerate(header)}
    units: dict[str, str] = {}
    launches: list[NcuLaunch] = []
    for row in rows:
        if len(row) != len(header):
            continue
        if not row[col["ID"]].strip():  # the units row
            units = {h: row[i] for i, h in enumerate(header) if h not in _ID_COLUMNS and row[i]}
            continue
        launch = NcuLaunch(
            id=row[col["ID"]],
            kernel=row[col["Kernel Name"]],
            block_size=row[col["Block Size"]] if "Block Size" in col else None,
            grid_size=row[col["Grid Size"]] if "Grid Size" in col else None,
            cc=row[col["CC"]] if "CC" in col else None,
            units=units,
        )
        for i, name in enumerate(header):
            if name not in _ID_COLUMNS and row[i].strip() != "":
                launch.metrics[name] = parse_value(row[i])
        launches.append(launch)
    return launches


def _parse_sections(header: list[str], rows: list[list[str]]) -> list[NcuLaunch]:
    col = {name: i for i, name in enumerate(header)}
    by_id: dict[str, NcuLaunch] = {}
    speedups: dict[str, list[tuple[float, str]]] = {}

    def cell(row: list[str], name: str) -> str:
        i = col.get(name)
        return row[i] if i is not None and i < len(row) else ""

    for row in rows:
        launch_id = cell(row, "ID")
        launch = by_id.get(launch_id)
        if launch is None:
            launch = by_id[launch_id] = NcuLaunch(
                id=launch_id,
                kernel=cell(row, "Kernel Name"),
                block_size=cell(row, "Block Size") or None,
                grid_size=cell(row, "Grid Size") or None,
                cc=cell(row, "CC") or None,
            )
        metric = cell(row, "Metric Name")
        if metric:
            launch.metrics[metric] = parse_value(cell(row, "Metric Value"))
            unit = cell(row, "Metric Unit")
            if unit:
                launch.units[metric] = unit
        elif cell(row, "Rule Name") and cell(row, "Rule Description"):
            value = parse_value(cell(row, "Estimated Speedup"))
            speed = value if isinstance(value, float) else 0.0
            text = f"{cell(row, 'Rule Name')}: {cell(row, 'Rule Description').strip()}"
            speedups.setdefault(launch_id, []).append((speed, text))
    for launch_id, rules in speedups.items():
        by_id[launch_id].rules = [t for _, t in sorted(rules, key=lambda r: -r[0])]
    return list(by_id.values())


def headline(launch: NcuLaunch) -> dict[str, float | str]:
    """The few numbers the Judge reads first, under one name whichever layout ncu used."""
    out: dict[str, float | str] = {}
    for short, (raw, section) in HEADLINE.items():
        for key in (raw, section):
            if key and key in launch.metrics:
                out[short] = launch.metrics[key]
                break
    return out


def merge_into_report(report: ProfileReport, launches: list[NcuLaunch]) -> None:
    """Attach each profiled kernel's counters to its static KernelProfile (by name); kernels
    the static pass did not see get a KernelProfile of their own (source "ncu"). With
    several launches of one kernel, the longest one's counters are kept."""
    longest: dict[str, NcuLaunch] = {}
    for launch in launches:
        name = launch.base_name
        dur = headline(launch).get("duration_ns")
        prev = longest.get(name)
        prev_dur = headline(prev).get("duration_ns") if prev is not None else None
        if prev is None or (
            isinstance(dur, float) and (not isinstance(prev_dur, float) or dur > prev_dur)
        ):
            longest[name] = launch
    for name, launch in longest.items():
        target = next((k for k in report.kernels if k.name == name), None)
        if target is None:
            target = KernelProfile(name=name, arch=report.arch, source=FactSource.NCU)
            report.kernels.append(target)
        else:
            target.source = FactSource.STATIC_NCU
        target.metrics.update(headline(launch))
        for metric, value in launch.metrics.items():
            if metric in CURATED_METRICS:
                target.metrics[metric] = value
        target.notes.extend(f"ncu rule {r[:300]}" for r in launch.rules[:3])
    if longest:
        report.source = FactSource.STATIC_NCU


# ---------------------------------------------------------------- running ncu (GPU only)


def find_ncu() -> Path | None:
    """$KWRIGHT_NCU, `ncu` on PATH, or the usual install places; None if absent."""

    env = host_settings().ncu
    candidates = [env] if env else []
    found = shutil.which("ncu")
    if found:
        candidates.append(Path(found))
    candidates.append(Path("/usr/local/cuda/bin/ncu"))
    candidates.extend(sorted(Path("/opt/nvidia").glob("nsight-compute/*/ncu"), reverse=True))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    return None


def kernel_filter(names: list[str]) -> list[str]:
    """`--kernel-name` matching any of the names exactly, with or without a namespace
    (`--kernel-name-base function`: the name without parameters or template arguments)."""
    clean = sorted({n.rsplit("::", 1)[-1] for n in names if n})
    if not clean:
        return []
    pattern = "|".join(re.escape(n) for n in clean)
    return ["--kernel-name-base", "function", "--kernel-name", f"regex:(^|::)({pattern})$"]


def build_command(
    ncu: Path,
    target: list[str],
    *,
    kernel_names: list[str] | None = None,
    launch_count: int = 20,
    metrics: list[str] | None = None,
) -> list[str]:
    """ncu, raw-page CSV of the curated metrics, for the named kernels, around `target`."""
    return [
        str(ncu),
        "--csv",
        "--page",
        "raw",
        "--metrics",
        ",".join(metrics or list(CURATED_METRICS)),
        "--target-processes",
        "all",
        "--replay-mode",
        "kernel",
        "--launch-count",
        str(launch_count),
        *kernel_filter(kernel_names or []),
        *target,
    ]


def run_ncu(
    command: list[str], timeout_s: float, cwd: Path | None = None
) -> tuple[str | None, str | None]:
    """(CSV text, None) or (None, why not). Kills the whole process group on timeout."""
    try:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:
        return None, f"ncu: cannot start: {exc}"
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, f"ncu: timed out after {timeout_s:.0f} s"
    text = out + "\n" + err
    if "ERR_NVGPUCTRPERM" in text:
        return None, PERMISSION_ERROR
    if not any(line.startswith('"') for line in out.splitlines()):
        tail = " ".join(err.strip().splitlines()[-3:])[:500]
        return None, f"ncu: no metrics (exit {proc.returncode}): {tail or 'no kernel matched'}"
    return out, None


def run_ncu_for_step(workdir: Path, job: NcuJob) -> tuple[str | None, str | None]:
    """Inside the sandboxed profile step on a GPU: profile one forward of the candidate
    (`kernelbench.runner.ncu_target`) in a child process."""
    ncu = find_ncu()
    if ncu is None:
        return None, NEEDS_GPU
    target = [sys.executable, "-m", "kernelbench.runner.ncu_target", str(workdir)]
    command = build_command(
        ncu, target, kernel_names=job.kernel_names, launch_count=job.launch_count
    )
    return run_ncu(command, job.timeout_s, cwd=workdir)
