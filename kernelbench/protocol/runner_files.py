"""File names and shapes of the runner step's protocol (plain files in its scratch dir).

Caller -> runner (written by the caller, read and unlinked by the runner before any
candidate code runs):
  runner.json           {"backend", "device", "trials": [{"trial", "shape"}], "timing": {...},
                        "init_seed" (ModelNew is built under it, as the reference was),
                        "precision" (fp16/bf16: ModelNew is cast to it)}
  in/trial_<t>.pt       the trial's inputs, a list (torch.save; weights-only loadable)
  in/init_<s>.pt        {"init": get_init_inputs(), "state": the reference's state_dict}
  candidate.py          the candidate
Runner -> caller (the caller reads them as untrusted data; the verdict is its own):
  out/trial_<t>.pt      {"outputs": [...], "inputs": [...]} saved together after forward,
                        so storage shared between an output and an input survives the save
  out/timed_<j>.pt      GPU only: {"inputs": [...], "outputs": [...]} of a sampled timed call
  report.json           what the runner saw: status, messages, launches, guard record, timing
"""

from __future__ import annotations

from typing import Any

RUNNER_REQUEST = "runner.json"
RUNNER_REPORT = "report.json"
IN_DIR = "in"
OUT_DIR = "out"
CANDIDATE_FILE = "candidate.py"
# Blind evaluation (kernelbench.runner.program, kernelbench.runner.replay): the runner records
# the program its host code builds on stand-ins; the replay step runs it on the real data.
PROGRAM_FILE = "out/program.json"
REPLAY_REQUEST = "replay.json"
REPLAY_REPORT = "replay_report.json"
KERNELS_FILE = "kernels.py"


def trial_inputs_file(trial: int) -> str:
    return f"{IN_DIR}/trial_{trial}.pt"


def init_file(shape: int) -> str:
    return f"{IN_DIR}/init_{shape}.pt"


def trial_output_file(trial: int) -> str:
    return f"{OUT_DIR}/trial_{trial}.pt"


def timed_output_file(index: int) -> str:
    return f"{OUT_DIR}/timed_{index}.pt"


def flatten_outputs(value: Any) -> list[Any]:
    """Tensors and scalars in order; nested tuples/lists are flattened."""
    if isinstance(value, tuple | list):
        flat: list[Any] = []
        for item in value:
            flat.extend(flatten_outputs(item))
        return flat
    return [value]
