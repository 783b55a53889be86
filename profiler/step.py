"""The profile step: runs inside the sandbox (`python -m kernelbench.runner.child WORKDIR` with
`step == "profile"`), never in the caller.

It compiles what the caller asks for and reports facts:
* Triton jobs: imports the extracted kernels file the caller wrote (definitions only; no
  candidate module-level code) and AOT-compiles each recorded launch for the arch;
* CUDA jobs: nvcc -cubin -Xptxas -v of each captured source (no candidate Python runs);
* then `cuobjdump -sass` of every cubin for the instruction mix;
* on a GPU, if asked, Nsight Compute on one forward of the candidate (`profiler.ncu`).

It does not import torch (a profile step starts in well under a second) and never sees
the compile cache: the caller looks entries up before, and stores results after.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

from profiler.cuda_compile import compile_cuda
from profiler.facts import cuda_block_sizes, kernel_profile
from profiler.ncu import run_ncu_for_step
from profiler.protocol import CudaJob, JobResult, ProfileStepInput, ProfileStepOutput, TritonJob
from profiler.ptxas import PtxasFacts, demangle, parse_ptxas_log
from profiler.report import SassMix
from profiler.sass import classify, dump_sass, split_functions
from profiler.toolchain import ToolchainMissing, find_toolchain
from profiler.triton_aot import AotCompileError, compile_launch, load_kernel_module

log = logging.getLogger(__name__)

ARTIFACTS = "artifacts"
SASS_WORKERS = 2


def _first_lines(text: str, n: int = 12, limit: int = 2000) -> str:
    return "\n".join(text.strip().splitlines()[:n])[:limit]


def _triton_job(module: ModuleType, job: TritonJob, arch: str, out: Path, index: int) -> JobResult:
    rec = job.launch
    started = time.perf_counter()
    result = JobResult(key=job.key, kind="triton", name=rec.kernel, ok=False)
    try:
        compiled = compile_launch(module, rec, arch)
    except AotCompileError as exc:
        result.error = str(exc)
        result.refused = exc.refused
        result.duration_s = time.perf_counter() - started
        return result
    cubin = out / f"triton_{index}_{rec.kernel}.cubin"
    cubin.write_bytes(compiled.cubin)
    facts = parse_ptxas_log(compiled.ptxas_log).get(rec.kernel) or PtxasFacts(rec.kernel)
    result.ok = True
    result.log = compiled.ptxas_log
    result.cubin = str(cubin.relative_to(out.parent))
    result.kernels = [
        kernel_profile(
            facts,
            arch,
            block_size=compiled.num_warps * 32,
            dynamic_smem_bytes=compiled.shared_mem_bytes,
            num_warps=compiled.num_warps,
            num_stages=compiled.num_stages,
        )
    ]
    result.duration_s = time.perf_counter() - started
    return result


def _cuda_job(job: CudaJob, arch: str, out: Path) -> JobResult:
    started = time.perf_counter()
    result = JobResult(key=job.key, kind="cuda", name=job.name, ok=False)
    compiled = compile_cuda(job.source, out / f"cuda_{job.name}", arch=arch, name=job.name)
    result.log = compiled.log
    if not compiled.ok or compiled.cubin is None:
        result.error = compiled.log or "nvcc failed"
        result.refused = not compiled.timed_out and bool(compiled.log.strip())
        result.duration_s = time.perf_counter() - started
        return result
    result.ok = True
    result.cubin = str(compiled.cubin.relative_to(out.parent))
    sizes = cuda_block_sizes(job.source)
    notes = (
        ["dynamic shared memory (extern __shared__, sized at launch) is not counted"]
        if "extern __shared__" in job.source
        else []
    )
    for name, facts in parse_ptxas_log(compiled.log).items():
        short = demangle(name).split("::")[-1]
        result.kernels.append(kernel_profile(facts, arch, block_size=sizes.get(short), notes=notes))
    result.duration_s = time.perf_counter() - started
    return result


def _attach_sass(results: list[JobResult], workdir: Path) -> None:
    """cuobjdump each cubin (in parallel: each run costs ~0.5 s of startup)."""
    tc = find_toolchain()
    if tc.cuobjdump is None:
        for r in results:
            for k in r.kernels:
                k.notes.append("no cuobjdump: SASS mix not read")
        return
    cuobjdump = tc.cuobjdump
    todo = [r for r in results if r.ok and r.cubin]

    def one(result: JobResult) -> tuple[JobResult, dict[str, SassMix] | str]:
        try:
            listing = dump_sass(cuobjdump, [workdir / str(result.cubin)])
        except (OSError, RuntimeError) as exc:
            return result, str(exc)
        return result, {name: classify(ops) for name, ops in split_functions(listing).items()}

    with ThreadPoolExecutor(max_workers=SASS_WORKERS) as pool:
        for result, mixes in pool.map(one, todo):
            if isinstance(mixes, str):
                for k in result.kernels:
                    k.notes.append(f"SASS not read: {mixes}")
                continue
            for k in result.kernels:
                k.sass = mixes.get(k.symbol or k.name)
                if k.sass is not None:
                    k.barriers = k.barriers if k.barriers is not None else k.sass.barriers


def profile_step(workdir: Path, inp: ProfileStepInput) -> ProfileStepOutput:
    out = workdir / ARTIFACTS
    out.mkdir(exist_ok=True)
    output = ProfileStepOutput()
    if inp.triton_jobs:
        module: ModuleType | None = None
        load_error = ""
        try:
            module = load_kernel_module(workdir / str(inp.kernels_file))
        except Exception as exc:  # noqa: BLE001 - reported per job, never raised
            load_error = f"importing the extracted kernels failed: {type(exc).__name__}: {exc}"
        for i, job in enumerate(inp.triton_jobs):
            if module is None:
                output.results.append(
                    JobResult(
                        key=job.key,
                        kind="triton",
                        name=job.launch.kernel,
                        ok=False,
                        error=_first_lines(load_error),
                    )
                )
                continue
            output.results.append(_triton_job(module, job, inp.arch, out, i))
    for cuda_job in inp.cuda_jobs:
        try:
            output.results.append(_cuda_job(cuda_job, inp.arch, out))
        except ToolchainMissing as exc:
            output.results.append(
                JobResult(
                    key=cuda_job.key, kind="cuda", name=cuda_job.name, ok=False, error=str(exc)
                )
            )
    _attach_sass(output.results, workdir)
    if inp.ncu is not None:
        output.ncu_csv, output.ncu_error = run_ncu_for_step(workdir, inp.ncu)
    return output
