"""The caller's side of static profiling: keys, cache look-ups, one sandboxed profile step
for whatever missed, cache writes, and the ProfileReport.

Runs in kernelwright's own process and never imports or executes candidate code: it
parses the candidate's source with `ast` (to extract its kernels) and reads the JSON the
sandboxed steps wrote. See `profiler.cache` for the trust rule the writes follow.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from profiler.cache import CompileCache, ProfileCache, content_key, toolchain_fingerprint
from profiler.gpus import UnknownArch, normalize_arch
from profiler.launches import LaunchRecord, cuda_token, verified_token
from profiler.protocol import (
    KERNELS_FILE,
    CudaJob,
    CudaSource,
    JobResult,
    ProfileStepInput,
    ProfileStepOutput,
    TritonJob,
)
from profiler.report import KernelProfile, ProfileReport
from profiler.triton_aot import extract_kernels

log = logging.getLogger(__name__)

CUBIN = "kernel.cubin"
MAX_PROFILED_LAUNCHES = 16  # distinct Triton launches compiled per profile


@dataclass
class StepRun:
    """What running the profile step gave: its output (None on a crash or timeout), the
    directory its artifacts are in, and why it failed."""

    output: ProfileStepOutput | None
    workdir: Path | None = None
    error: str | None = None


# (step input, files to place in the step's directory) -> StepRun
StepRunner = Callable[[ProfileStepInput, dict[str, str]], StepRun]


class StaticProfile(BaseModel):
    """The static profile of one candidate; also what the profile cache stores."""

    report: ProfileReport
    cuda_results: list[JobResult] = Field(default_factory=list)  # nvcc outcome per source
    # Kernels the target's compiler refused (JobResult.refused), one line each: a verdict
    # condition for the caller (kernelbench.harness.evaluate), not a profiling fault.
    refusals: list[str] = Field(default_factory=list)
    # Tokens (profiler.launches.verified_token, cuda_token) of the launches and CUDA
    # sources compiled for the target, and of those not compiled (left out by the budget,
    # or a fault of the step): the replay runs only launches of either list.
    verified: list[str] = Field(default_factory=list)
    unverified: list[str] = Field(default_factory=list)


def _first_error(log: str | None) -> str:
    """nvcc's first error line, without the file's path (`/tmp/x/k.cu(12): error: ...`)."""
    for line in (log or "").splitlines():
        if "error" in line:
            return line.split("): ", 1)[-1].strip()[:300]
    return "no message"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _is_candidate_kernel(launch: LaunchRecord, candidate_file: str) -> bool:
    return launch.module_file is not None and Path(launch.module_file).name == candidate_file


def _strip_cubin(result: JobResult) -> dict[str, object]:
    data = result.model_dump(mode="json")
    data["cubin"] = CUBIN if result.cubin else None
    return data


def _artifact(workdir: Path, name: str | None) -> Path | None:
    """A file the step produced, only if it really lies inside the step's directory (no
    `..`, no symlink out of it)."""
    if not name:
        return None
    root = workdir.resolve()
    path = (workdir / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        log.warning("profile step named an artifact outside its directory: %s", name)
        return None
    return path


def _kernels_for_launch(
    result: JobResult, launch: LaunchRecord, repeated: bool
) -> list[KernelProfile]:
    kernels = []
    for original in result.kernels:
        k = original.model_copy(deep=True)
        k.grid = list(launch.grid) or None
        if repeated and launch.constexprs:
            spec = ", ".join(f"{n}={v}" for n, v in launch.constexprs.items())
            k.notes.append(f"specialization: {spec}")
        kernels.append(k)
    return kernels


def _within_budget(
    launches: list[LaunchRecord], budget: int, report: ProfileReport
) -> list[LaunchRecord]:
    """The `budget` launches with the most programs (grid size x launch count), in launch
    order; the others are named in a note. Each compile costs ~2 s: DenseNet121's 156
    distinct launches ran the profile step past its 300 s limit, and a Judge acts on the
    few heaviest kernels anyway."""
    if len(launches) <= budget:
        return launches

    def work(rec: LaunchRecord) -> int:
        return math.prod(rec.grid or [1]) * rec.count

    kept = set(sorted(range(len(launches)), key=lambda i: -work(launches[i]))[:budget])
    left = [rec.kernel for i, rec in enumerate(launches) if i not in kept]
    report.notes.append(
        f"{len(left)} of {len(launches)} launches not compiled (the profile's budget is the "
        f"{budget} with the most programs): {', '.join(left[:8])}{' ...' if len(left) > 8 else ''}"
    )
    return [rec for i, rec in enumerate(launches) if i in kept]


def static_profile(
    source: str,
    launches: list[LaunchRecord],
    cuda_sources: list[CudaSource],
    arch: str,
    run_step: StepRunner,
    *,
    candidate_file: str = "candidate.py",
    compile_cache: CompileCache | None = None,
    profile_cache: ProfileCache | None = None,
    max_launches: int = MAX_PROFILED_LAUNCHES,
) -> StaticProfile:
    """Static facts for each Triton launch (at most `max_launches`) and CUDA source of a
    candidate, for `arch`."""
    started = time.perf_counter()
    try:
        arch = normalize_arch(arch)
    except UnknownArch as exc:
        return StaticProfile(report=ProfileReport(arch=arch, errors=[str(exc)]))
    fingerprint = toolchain_fingerprint()
    report = ProfileReport(arch=arch, toolchain={k: v for k, v in fingerprint.items() if v})
    ours = [rec for rec in launches if _is_candidate_kernel(rec, candidate_file)]
    for rec in launches:
        if rec not in ours:
            report.notes.append(
                f"kernel {rec.kernel} is defined outside the candidate file; not profiled"
            )
    profile_key = content_key(
        "profile",
        _sha(source),
        sorted((rec.compile_spec() for rec in ours), key=repr),
        sorted(_sha(s.source) for s in cuda_sources),
        arch,
        fingerprint,
        max_launches if len(ours) > max_launches else None,  # a budgeted profile is partial
    )
    if profile_cache is not None and (hit := profile_cache.get(profile_key)) is not None:
        try:
            cached = StaticProfile.model_validate_json(hit)
        except ValueError:
            log.warning("profile cache entry %s is invalid; recomputing", profile_key[:12])
        else:
            cached.report.cached = True
            _refresh_grids(cached.report, ours)
            cached.report.duration_s = round(time.perf_counter() - started, 4)
            return cached

    kernels_text = ""
    triton_jobs: list[TritonJob] = []
    verified: list[str] = []
    unverified: list[str] = []
    if ours:
        try:
            extracted = extract_kernels(source)
        except SyntaxError as exc:
            report.errors.append(f"cannot parse the candidate for its kernels: {exc}")
            ours = []
        else:
            kernels_text = extracted.text
            for rec in ours:
                if rec.kernel not in extracted.kernels:
                    report.errors.append(
                        f"kernel {rec.kernel}: not a module-level @triton.jit function of the "
                        "candidate file; not profiled"
                    )
            ours = [rec for rec in ours if rec.kernel in extracted.kernels]
            kept = _within_budget(ours, max_launches, report)
            unverified += [verified_token(rec) for rec in ours if rec not in kept]
            ours = kept
            triton_jobs = [
                TritonJob(
                    key=content_key(
                        "triton", _sha(kernels_text), rec.compile_spec(), arch, fingerprint
                    ),
                    launch=rec,
                )
                for rec in ours
            ]
    cuda_jobs = [
        CudaJob(
            key=content_key("nvcc", _sha(s.source), arch, fingerprint), name=s.name, source=s.source
        )
        for s in cuda_sources
    ]

    results: dict[str, JobResult] = {}
    for job_key in [j.key for j in triton_jobs] + [j.key for j in cuda_jobs]:
        entry = compile_cache.get(job_key) if compile_cache is not None else None
        if entry is None:
            continue
        try:
            results[job_key] = JobResult.model_validate(entry.meta)
        except ValueError:
            continue
    report.compile_cache_hits = len(results)
    missing_triton = [j for j in triton_jobs if j.key not in results]
    missing_cuda = [j for j in cuda_jobs if j.key not in results]
    report.compile_cache_misses = len(missing_triton) + len(missing_cuda)
    step_failed = False
    if missing_triton or missing_cuda:
        inp = ProfileStepInput(
            arch=arch,
            kernels_file=KERNELS_FILE if missing_triton else None,
            triton_jobs=missing_triton,
            cuda_jobs=missing_cuda,
        )
        files = {KERNELS_FILE: kernels_text} if missing_triton else {}
        run = run_step(inp, files)
        if run.output is None:
            step_failed = True
            report.errors.append(f"profile step failed: {run.error or 'no report'}")
        else:
            # A step that compiled Triton kernels ran candidate-derived code at compile
            # time: its CUDA results are used here but not shared through the cache.
            cache_cuda = not missing_triton
            # Only answers to the jobs asked for, each once, of the kind asked for: a step
            # cannot place an entry under a key it was not given.
            asked = {j.key: "triton" for j in missing_triton} | {
                j.key: "cuda" for j in missing_cuda
            }
            for result in run.output.results:
                if asked.pop(result.key, None) != result.kind:
                    log.warning("profile step answered a job it was not given; ignored")
                    continue
                results[result.key] = result
                if compile_cache is None or run.workdir is None:
                    continue
                if result.kind == "cuda" and not cache_cuda:
                    continue
                files_to_store = {}
                cubin = _artifact(run.workdir, result.cubin)
                if cubin is not None:
                    files_to_store[CUBIN] = cubin
                compile_cache.put(result.key, _strip_cubin(result), files_to_store)

    names = [rec.kernel for rec in ours]
    refusals: list[str] = []
    for job in triton_jobs:
        found = results.get(job.key)
        token = verified_token(job.launch)
        (verified if found is not None and found.ok else unverified).append(token)
        if found is None:
            continue
        if not found.ok:
            report.errors.append(
                f"kernel {job.launch.kernel}: compile for {arch} failed: {found.error}"
            )
            if found.refused:
                first = (found.error or "").strip().splitlines()[-1:] or ["no message"]
                refusals.append(f"kernel {job.launch.kernel}: {first[0][:300]}")
            continue
        report.kernels.extend(
            _kernels_for_launch(found, job.launch, names.count(job.launch.kernel) > 1)
        )
    cuda_results = [results[j.key] for j in cuda_jobs if j.key in results]
    for cuda_job in cuda_jobs:
        done = results.get(cuda_job.key)
        token = cuda_token(cuda_job.source)
        (verified if done is not None and done.ok else unverified).append(token)
    for result in cuda_results:
        if result.ok:
            report.kernels.extend(result.kernels)
        else:
            report.errors.append(f"{result.name}: nvcc failed for {arch}")
            if result.refused:
                refusals.append(
                    f"{result.name}: nvcc reported errors: {_first_error(result.error)}"
                )
    report.duration_s = round(time.perf_counter() - started, 4)
    static = StaticProfile(
        report=report,
        cuda_results=cuda_results,
        refusals=refusals,
        verified=verified,
        unverified=unverified,
    )
    if profile_cache is not None and not step_failed:
        profile_cache.put(profile_key, static.model_dump_json())
    return static


def _refresh_grids(report: ProfileReport, launches: list[LaunchRecord]) -> None:
    """A cached profile keeps its facts; the grids are this run's (they follow the sizes)."""
    unused = list(launches)
    for k in report.kernels:
        rec = next((r for r in unused if r.kernel == k.name), None)
        if rec is not None and k.num_warps is not None:
            k.grid = list(rec.grid) or None
            unused.remove(rec)
