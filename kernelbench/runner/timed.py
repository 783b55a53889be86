"""GPU timing of the candidate on inputs it has never seen, with sampled outputs kept.

Every call (warm-up and timed) gets one of ROTATING_BUFFERS input buffers refilled, outside
the timed span, with a fresh random permutation of the first trial's values (per tensor,
over all its elements). A permutation keeps every value in the problem's input domain
(positive stays positive, indices stay in range), while contents never repeat and
pointers repeat with new contents: an output cached by pointer or by content is stale.
A secret random sample of timed calls (and always the last) has its inputs and outputs
saved; the caller re-runs the reference on them and compares (`kernelbench.recheck`).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch

from kernelbench.protocol import runner_files as p
from kernelbench.protocol.timing import time_gpu

ROTATING_BUFFERS = 3
SAMPLE_PROBABILITY = 0.1
MAX_SAMPLES = 6


class Rotation:
    def __init__(self, inputs: list[Any]) -> None:
        self.originals = inputs
        self.buffers = [
            [x.detach().clone().contiguous() if isinstance(x, torch.Tensor) else x for x in inputs]
            for _ in range(ROTATING_BUFFERS)
        ]
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(random.SystemRandom().randrange(2**63))

    def __call__(self, i: int) -> list[Any]:
        buf = self.buffers[i % ROTATING_BUFFERS]
        for orig, dst in zip(self.originals, buf, strict=True):
            if isinstance(orig, torch.Tensor) and orig.numel() > 1:
                perm = torch.randperm(orig.numel(), generator=self.generator).to(orig.device)
                dst.view(-1).copy_(orig.reshape(-1)[perm])
        return buf


def time_candidate(
    fn: Any, inputs: list[Any], spec: dict[str, Any], workdir: Path
) -> dict[str, Any]:
    rng = random.SystemRandom()
    rotation = Rotation(inputs)
    kept: list[tuple[list[Any], Any]] = []
    last: list[tuple[list[Any], Any]] = []

    def snapshot(args: list[Any], out: Any) -> tuple[list[Any], Any]:
        copy = [x.detach().cpu().clone() if isinstance(x, torch.Tensor) else x for x in args]
        flat = [
            o.detach().cpu().clone() if isinstance(o, torch.Tensor) else o
            for o in p.flatten_outputs(out)
        ]
        return copy, flat

    def after(i: int, args: list[Any], out: Any) -> None:
        if len(kept) < MAX_SAMPLES and rng.random() < SAMPLE_PROBABILITY:
            kept.append(snapshot(args, out))
        last[:] = [(args, out)]

    stats = time_gpu(
        fn,
        inputs,
        trials=int(spec.get("trials", 100)),
        warmup=int(spec.get("warmup", 10)),
        budget_s=float(spec.get("budget_s", 10.0)),
        rotate=rotation,
        after=after,
    )
    if last:
        kept.append(snapshot(*last[0]))
    for j, (args, flat) in enumerate(kept):
        torch.save({"inputs": args, "outputs": flat}, workdir / p.timed_output_file(j))
    return {"stats": stats.model_dump(), "samples": len(kept)}
