"""Render the Coder's and the Judge's prompts (jinja2 templates in agents/templates/)."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from agents.protocols import (
    Bottleneck,
    CoderContext,
    Feedback,
    FeedbackMode,
    JudgeContext,
    LineageStep,
)
from kernelbench.protocol.result import EvalResult, Status
from profiler.gpus import UnknownArch, UnknownGpu, arch_limits, gpu_spec

MAX_MESSAGES_CHARS = 3000
PROFILE_SUMMARY_CHARS = 1500
BACKEND_NAMES = {"triton": "Triton", "cuda": "CUDA C"}


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("agents", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(template: str, **values: Any) -> str:
    return _env().get_template(template).render(**values).strip() + "\n"


class TargetInfo:
    """The target GPU as the prompts describe it."""

    def __init__(self, name: str, arch: str) -> None:
        self.name = name
        self.arch = arch

    def lines(self) -> list[str]:
        """Datasheet peaks and per-SM limits from the profiler's tables (what a kernel
        engineer keeps in mind: bandwidth vs FLOP/s, registers, shared memory, warps)."""

        lines = [f"GPU: {self.name} ({self.arch})"]
        try:
            spec = gpu_spec(self.name)
        except UnknownGpu:
            spec = None
        if spec is not None:
            lines.append(
                f"peak: DRAM {spec.dram_bytes_per_s / 1e12:.2f} TB/s, FP32 {spec.fp32_flops / 1e12:.0f} "
                f"TFLOP/s, TF32 tensor {spec.tf32_tensor_flops / 1e12:.0f} TFLOP/s, FP16 tensor "
                f"{spec.fp16_tensor_flops / 1e12:.0f} TFLOP/s (dense)"
            )
            balance = spec.fp32_flops / spec.dram_bytes_per_s
            lines.append(f"a kernel below ~{balance:.0f} FP32 FLOP per DRAM byte is memory-bound")
        try:
            lim = arch_limits(self.arch)
        except UnknownArch:
            return lines
        lines.append(
            f"per SM: {lim.regs_per_sm // 1024}K 32-bit registers (max {lim.max_regs_per_thread} per "
            f"thread), {lim.smem_per_sm // 1024} KB shared memory (up to {lim.smem_per_block_optin // 1024} "
            f"KB per block), {lim.max_warps_per_sm} warps, {lim.max_blocks_per_sm} blocks"
        )
        return lines


def trim_middle(text: str, limit: int) -> str:
    """Keep the start and the end of a long text (errors sit at both ends)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = limit // 3
    return (
        text[:head] + f"\n[... {len(text) - limit} characters cut ...]\n" + text[-(limit - head) :]
    )


def verdict_text(result: EvalResult | None, failure: str | None = None) -> str:
    """The verdict as the agents read it: status, reason, mismatch stats, output verbatim."""
    if result is None:
        return f"no candidate: {failure or 'the Coder produced no code'}"
    lines = [f"status: {result.status.value}"]
    if result.reason:
        lines.append(f"reason: {result.reason}")
    failing = [t for t in result.trials if not t.ok]
    if result.status == Status.INCORRECT and failing:
        for t in failing[:3]:
            worst = max(t.outputs, key=lambda o: o.mismatched, default=None)
            stats = ""
            if worst is not None and worst.numel:
                stats = (
                    f" — {worst.mismatched}/{worst.numel} values off, max abs err "
                    f"{worst.max_abs_err or 0.0:.3g}, max rel err {worst.max_rel_err or 0.0:.3g}"
                )
            lines.append(f"trial {t.trial} sizes {t.sizes}: {t.reason}{stats}")
        passed = len(result.trials) - len(failing)
        lines.append(f"{passed} of {len(result.trials)} trials passed")
    lines.extend(f"flag: {f}" for f in result.flags)
    if result.messages and result.status not in (Status.CORRECT, Status.INCORRECT):
        lines.append(
            "output:\n```text\n" + trim_middle(result.messages, MAX_MESSAGES_CHARS) + "\n```"
        )
    return "\n".join(lines)


def timing_text(result: EvalResult | None) -> str:
    if result is None or result.speedup is None:
        note = result.timing_note if result is not None else None
        return note or "not measured"
    return (
        f"candidate {result.runtime_ms:.4f} ms, reference {result.ref_runtime_ms:.4f} ms "
        f"(speedup {result.speedup:.2f}x)"
    )


NO_ADVICE = "no_advice"  # Feedback.params key: the Judge gave no advice this round, and why


def no_advice(mode: FeedbackMode, why: str) -> Feedback:
    """The feedback of a round the Judge gave no usable advice for (its reply held none, or
    its endpoint failed): recorded as such and shown to the Coder as "no advice this
    round", never as advice."""
    return Feedback(
        mode=mode,
        summary=f"No advice this round ({why}).",
        source="fallback",
        params={NO_ADVICE: why},
    )


def is_no_advice(feedback: Feedback | None) -> bool:
    return feedback is not None and NO_ADVICE in feedback.params


def advice_status(feedback: Feedback | None) -> str | None:
    """What the review of an attempt amounted to, in a few words (run summary, --json)."""
    if feedback is None:
        return None
    if is_no_advice(feedback):
        return f"no advice: {feedback.params[NO_ADVICE]}"
    if feedback.source == "fallback":
        return "not reviewed (no candidate)" if feedback.mode == "repair" else "no advice"
    return f"advised ({feedback.mode})"


def bottleneck_text(b: Bottleneck) -> str:
    """One ranked bottleneck in a line: what, the evidence, the fix."""
    text = b.label()
    if b.evidence:
        text += " (evidence: " + ", ".join(f"{e.metric}={e.value}" for e in b.evidence) + ")"
    if b.fix:
        text += f"; fix: {b.fix}"
    return text


def history_text(steps: list[LineageStep]) -> list[str]:
    lines = []
    for s in steps:
        timing = f", {s.runtime_ms:.4g} ms" if s.runtime_ms is not None else ""
        timing += f" ({s.speedup:.2f}x)" if s.speedup is not None else ""
        change = f"; {s.change}" if s.change else ""
        lines.append(
            f"round {s.round}, attempt {s.attempt}: tried {s.tried[:120]} -> {s.status}{timing}{change}"
        )
    return lines


def feedback_text(feedback: Feedback) -> str:
    if is_no_advice(feedback):
        return f"No advice this round ({feedback.params[NO_ADVICE]}). Work from the verdict above."
    lines = [feedback.summary]
    if feedback.mode == "repair":
        if feedback.critical_issue:
            lines.append(f"Critical issue: {feedback.critical_issue}")
        if feedback.why:
            lines.append(f"Why it matters: {feedback.why}")
        if feedback.minimal_fix:
            lines.append(f"Minimal fix: {feedback.minimal_fix}")
    elif feedback.bottlenecks:
        lines.append("Ranked bottlenecks (most important first):")
        lines.extend(f"{i}. {bottleneck_text(b)}" for i, b in enumerate(feedback.bottlenecks, 1))
    else:
        if feedback.bottleneck:
            lines.append(f"Bottleneck: {feedback.bottleneck}")
        if feedback.method:
            lines.append(f"Method: {feedback.method}")
        lines.extend(f"{i}. {step}" for i, step in enumerate(feedback.plan, 1))
    return "\n".join(lines)


def coder_messages(ctx: CoderContext) -> list[dict[str, str]]:
    cfg = ctx.config
    target = TargetInfo(cfg.target_gpu, cfg.arch)
    system = render(
        "coder_system.j2",
        backend=cfg.backend,
        backend_name=BACKEND_NAMES[cfg.backend],
        target=target,
        arch=cfg.arch,
        policy=cfg.policy,
    )
    previous = ctx.previous
    user = render(
        "coder_round.j2",
        problem=ctx.problem,
        problem_source=ctx.problem_source.strip(),
        target_lines=target.lines(),
        previous=previous,
        verdict=verdict_text(previous.result, previous.failure) if previous else "",
        feedback=ctx.feedback,
        feedback_text=feedback_text(ctx.feedback) if ctx.feedback else "",
        no_advice=is_no_advice(ctx.feedback),
        reverted=ctx.reverted,
        best=ctx.best,
        max_repair_rounds=cfg.max_repair_rounds,
        numbers=ctx.numbers,
        history=history_text(ctx.history),
        lessons=ctx.lessons,
        examples=ctx.examples,
        index=ctx.candidate_index,
        candidates=ctx.candidates,
        direction=bottleneck_text(ctx.direction) if ctx.direction else None,
        angle=ctx.angle,
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def judge_messages(
    ctx: JudgeContext, mode: FeedbackMode, *, structured: bool, keys: str
) -> list[dict[str, str]]:
    cfg = ctx.config
    target = TargetInfo(cfg.target_gpu, cfg.arch)
    system = render(
        "judge_system.j2",
        backend_name=BACKEND_NAMES[cfg.backend],
        target=target,
        arch=cfg.arch,
        mode=mode,
        structured=structured,
        keys=keys,
        ranked=ctx.ranked,
    )
    result = ctx.attempt.result
    profile = result.profile if result is not None else None
    user = render(
        "judge_user.j2",
        problem=ctx.problem,
        problem_source=ctx.problem_source.strip(),
        round=ctx.round,
        attempt=ctx.attempt,
        verdict=verdict_text(result, ctx.attempt.failure),
        mode=mode,
        timing=timing_text(result),
        arch=cfg.arch,
        profile_source=None,
        history=history_text(ctx.history),
        profile_summary=profile.summary(PROFILE_SUMMARY_CHARS)
        if profile
        else "no profile available",
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def as_markdown(messages: list[dict[str, str]]) -> str:
    """A prompt as one readable file (prompt.md in the run directory)."""
    return "\n\n".join(f"<!-- {m['role']} -->\n{m['content']}" for m in messages)
