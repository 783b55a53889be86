"""What the verdict says besides correct/incorrect about the handover and the shapes.

* Parameters (KernelBench's protocol): the reference and ModelNew are built under the same
  init seed, then the reference's state is copied into ModelNew by name. A reference tensor
  with no same-named, same-shaped slot is found by value among ModelNew's own tensors (its
  layers nest differently but were built in the same order); one found nowhere is named in
  a flag, never dropped silently.
* Judgeability (kernelbench.protocol.compare): an output whose float32 reference is its own
  noise is not judged; a problem where no output can be judged is not called `incorrect`.
* Trivial outputs: a check where a constant output would pass is flagged.
"""

from __future__ import annotations

from pathlib import Path

from kernelbench.problems.loading import hash_values
from kernelbench.protocol.request import RunnerReport
from kernelbench.protocol.result import EvalResult, NotJudgeable
from kernelbench.protocol.stepfiles import load_step_tensors

NAMED = 8  # tensors named in a flag; the rest are counted


def state_digests(ref_dir: Path, shapes: set[int]) -> dict[int, dict[str, str]]:
    """Per shape, a digest of each reference state tensor (read before the dir goes)."""
    digests: dict[int, dict[str, str]] = {}
    for shape in shapes:
        state = load_step_tensors(ref_dir, f"out/init_{shape}.pt").get("state", {})
        digests[shape] = {name: hash_values([value]) for name, value in state.items()}
    return digests


def _names(names: list[str]) -> str:
    more = f" (+{len(names) - NAMED} more)" if len(names) > NAMED else ""
    return ", ".join(names[:NAMED]) + more


def handover_flags(cand: RunnerReport, digests: dict[int, dict[str, str]]) -> list[str]:
    """Flags naming the reference tensors ModelNew holds by value only, and those it lacks."""
    by_value: list[str] = []
    lost: list[str] = []
    for key, pair in sorted((cand.state_handover or {}).items()):
        if len(pair) != 2 or not key.isdigit():
            continue
        unmatched, own = pair[0], set(pair[1])
        ref = digests.get(int(key), {})
        for name in unmatched:
            target = by_value if ref.get(name) in own else lost
            if name not in target:
                target.append(name)
    flags: list[str] = []
    if by_value:
        flags.append(
            f"parameters: {len(by_value)} reference tensor(s) have no same-named slot in "
            "ModelNew but it holds their values (built under the reference's init seed): "
            + _names(by_value)
        )
    if lost:
        flags.append(
            f"parameters: {len(lost)} reference tensor(s) found no slot in ModelNew (no "
            "same-named, same-shaped entry in its state_dict, and none with the same "
            "initial values under the reference's init seed): " + _names(lost)
        )
    return flags


def note_checks(result: EvalResult) -> bool:
    """Record the outputs that could not be judged and the trivial-output probes in
    `result` (not_judgeable, flags, trial reasons); True where some value was judged."""
    judged = False
    trivial: list[str] = []
    for trial in result.trials:
        skipped = []
        for check in trial.outputs:
            if check.judgeable:
                judged = True
            elif check.noise is not None and check.scale is not None:
                skipped.append(check.index)
                result.not_judgeable.append(
                    NotJudgeable(
                        trial=trial.trial,
                        sizes=trial.sizes,
                        output=check.index,
                        noise=check.noise,
                        scale=check.scale,
                    )
                )
            if check.trivial:
                trivial.append(f"trial {trial.trial} output {check.index}: {check.trivial}")
        if skipped and trial.ok and trial.reason is None:
            trial.reason = f"not judged: output(s) {skipped} are the reference's own noise"
        if not trial.outputs and trial.ok:
            judged = True  # nothing floating to judge: structure and values matched
    for item in result.not_judgeable[:NAMED]:
        result.flags.append(
            f"not judgeable: trial {item.trial} (sizes {item.sizes}) output {item.output}: the "
            f"reference's own float32 error {item.noise:.3g} is at or above its scale (RMS "
            f"{item.scale:.3g}); its values were not judged"
        )
    if trivial:
        result.flags.append(
            "trivial output: a constant (or all-zero) output would pass the tolerance at "
            + "; ".join(trivial[:NAMED])
            + " (a constant output is refused where zeros would pass)"
        )
    return judged or not result.trials


NO_JUDGEABLE = (
    "no checked shape can tell right from wrong: at each, the reference's own float32 "
    "error is at or above its scale (not_judgeable has the figures)"
)
