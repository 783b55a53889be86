"""Search strategies (issue 31): the real loop with the real LLM Coder and Judge talking to
the scripted OpenAI server on loopback; the evaluator is a stand-in that times each
candidate by a marker in its source (a GPU cannot exist here). What a round's prompts hold
(distinct, with the numbers, the lineage and the lessons), how the beam keeps, expands,
retires and prunes, each stop rule, and the Judge on its own endpoint with its own cost."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest

from agents.config import AgentConfig, LLMSettings
from agents.factory import make_agents
from agents.loop import ProblemLoop
from agents.protocols import (
    Bottleneck,
    CoderContext,
    Feedback,
    JudgeContext,
    Proposal,
    Review,
)
from agents.rundir import ProblemDir, ProblemResult
from agents.usage import BudgetTracker
from kernelbench.problems.problem import Problem
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.result import EvalResult, Status
from profiler.parts import KernelProfile, OccupancyLimiter, Roofline, RooflineBound, SassMix
from profiler.report import ProfileReport
from tests.fake_openai import FakeOpenAI, Scripted

RELU = resolve_problem("level1/2_ReLU")
GOOD = solution_path(RELU).read_text()
MARK = re.compile(r"# variant (\S+)")


def variant(k: int | str) -> str:
    return f"Plan: one pass.\n\n```python\n{GOOD}\n# variant {k}\n```\n"


def profile(fraction: float | None = None, measured: float | None = None) -> ProfileReport:
    kernel = KernelProfile(
        name="relu_kernel",
        arch="sm_90",
        registers_per_thread=40,
        spill_stores_bytes=0,
        spill_loads_bytes=0,
        occupancy_pct=50.0,
        occupancy_limiter=OccupancyLimiter.REGISTERS,
        sass=SassMix(tensor_core_mma=0, global_loads={"128": 2}),
    )
    roof = Roofline(
        gpu="H100",
        bound=RooflineBound.MEMORY,
        lower_bound_ms=0.01,
        measured_ms=measured,
        fraction_of_roofline=fraction,
    )
    return ProfileReport(kernels=[kernel], roofline=roof)


def timed(times: dict[str, float | None], fraction: float | None = None):
    """Variant k is correct in times[k] ms (reference 1 ms); None: incorrect."""

    def evaluate(problem: Problem, source: str) -> EvalResult:
        match = MARK.search(source)
        assert match is not None, source[-200:]
        t = times[match.group(1)]
        if t is None:
            return EvalResult(
                status=Status.INCORRECT, reason="output mismatch: 12 values off", device="cuda"
            )
        return EvalResult(
            status=Status.CORRECT,
            correct=True,
            runtime_ms=t,
            ref_runtime_ms=1.0,
            speedup=1.0 / t,
            device="cuda",
            profile=profile(fraction, t if fraction is not None else None),
        )

    return evaluate


def ranked(*categories: str, done: bool = False) -> str:
    return json.dumps(
        {
            "bottlenecks": [
                {
                    "category": c,
                    "summary": f"{c} limits the kernel",
                    "evidence": [{"metric": "registers_per_thread", "value": 40}],
                    "fix": f"fix {c}",
                }
                for c in categories
            ],
            "done": done,
        }
    )


def llm_loop(tmp_path, coder_url: str, evaluator, judge_llm=None, **cfg) -> ProblemLoop:
    llm = LLMSettings(model="gpt-4o-mini", base_url=coder_url, max_retries=0)
    config = AgentConfig(agent="llm", llm=llm, judge_llm=judge_llm, **cfg)
    tracker = BudgetTracker(config.budget)
    coder, judge = make_agents(config, tracker, "sk-test")
    return ProblemLoop(RELU, config, coder, judge, evaluator, ProblemDir(tmp_path / "p"), tracker)


def test_a_beam_round_expands_the_top_kernels_along_distinct_bottlenecks(tmp_path):
    times: dict[str, float | None] = {"1": 0.5, "2": 0.8, "3": 0.9, "4": None}
    times.update({str(k): 0.6 for k in range(5, 9)})
    with FakeOpenAI() as fake:
        fake.script("coder", *(Scripted(content=variant(k)) for k in range(1, 9)))
        fake.script(
            "judge", Scripted(content=ranked("A1", "A2")), Scripted(content=ranked("B1", "B2"))
        )
        fake.script("judge", *(Scripted(content=ranked("C1", "C2")) for _ in range(2)))
        loop = llm_loop(
            tmp_path, fake.base_url, timed(times), search="beam", rounds=2,
            candidates_per_round=4, beam_width=2, patience=5,
        )  # fmt: skip
        result = loop.run()
        coder, judge = fake.requests_for("coder"), fake.requests_for("judge")
    assert result.rounds_run == 2 and len(coder) == 8
    first, second = coder[:4], coder[4:]
    # Round 1: four distinct prompts (each its own angle) at four temperatures.
    assert len({r.user for r in first}) == 4
    assert all("## Your assignment (candidate" in r.user for r in first)
    assert len({r.body["temperature"] for r in first}) == 4
    # After each round the Judge reviewed the kept kernels it had not seen: the two best of
    # round 1, then the one child of round 2 that joins the still-best parent.
    assert len(judge) == 3 and "Rank up to 3 distinct bottlenecks" in judge[0].system
    schema = judge[0].body["response_format"]["json_schema"]["schema"]
    assert set(schema["required"]) == {"bottlenecks", "done"}
    by_attempt = {a.attempt: a for a in result.attempts}
    round1 = sorted((a for a in result.attempts if a.round == 1), key=lambda a: -(a.speedup or 0))
    top = [round1[0].attempt, round1[1].attempt]
    assert [round1[0].speedup, round1[1].speedup] == [2.0, 1.25]
    # Round 2: one candidate per (parent, bottleneck), every prompt distinct.
    round2 = [a for a in result.attempts if a.round == 2]
    assert sorted(a.parent or 0 for a in round2) == sorted(top * 2)
    assert sorted(a.direction.split(":")[0] for a in round2 if a.direction) == [
        "A1", "A2", "B1", "B2",
    ]  # fmt: skip
    assert len({r.user for r in second}) == 4 and len({r.body["temperature"] for r in second}) == 4
    for r in second:
        text = r.user
        # The numbers: its parent's time and profile facts, the best so far, the target.
        assert "## The numbers" in text and "registers/thread" in text
        assert "occupancy 50% (limited by registers)" in text and "no tensor cores" in text
        assert "global loads 128-bit x2" in text
        assert f"best so far: attempt {top[0]}: 0.5 ms, speedup 2.00x" in text
        assert "target: beat the best by 10%: 0.45 ms or less" in text
        assert "roofline: memory-bound, lower bound 0.01 ms" in text
        # The lineage's history and the lessons of the failed candidate.
        assert "## History of this lineage" in text
        assert "## Lessons from earlier candidates" in text
        assert "failed: incorrect: output mismatch: 12 values off" in text
        assert "Work on this bottleneck" in text and "registers_per_thread=40" in text
    parent_a = [r for r in second if "time 0.5 ms" in r.user]
    assert len(parent_a) == 2 and all("A1" in r.user and "B1" not in r.user for r in parent_a)
    reflection = json.loads((tmp_path / "p" / "reflections" / "001.json").read_text())
    assert reflection["kept"] == top and reflection["search"] == "beam"
    assert any("incorrect" in line for line in reflection["tried"])
    assert by_attempt[top[0]].judged and by_attempt[top[1]].judged


def test_chain_candidates_get_distinct_prompts_and_the_ranked_advice(tmp_path):
    times = {str(k): 0.5 for k in range(1, 7)}
    with FakeOpenAI() as fake:
        fake.script("coder", *(Scripted(content=variant(k)) for k in range(1, 7)))
        fake.script("judge", Scripted(content=ranked("memory", "occupancy", "launch")))
        loop = llm_loop(tmp_path, fake.base_url, timed(times), rounds=2, candidates_per_round=3)
        loop.run()
        coder = fake.requests_for("coder")
    assert len(coder) == 6
    for batch in (coder[:3], coder[3:]):
        assert len({r.user for r in batch}) == 3
    second = coder[3:]
    took = re.compile(r"other candidates of this round take the others: (\w+)")
    assignments = sorted(m.group(1) for r in second if (m := took.search(r.user)))
    assert assignments == ["launch", "memory", "occupancy"]
    assert all("Ranked bottlenecks (most important first):" in r.user for r in second)


def test_a_single_chain_candidate_keeps_todays_prompt_shape(tmp_path):
    with FakeOpenAI() as fake:
        fake.script("coder", Scripted(content=variant(1)), Scripted(content=variant(2)))
        fake.script("judge", Scripted(content=ranked("memory")))
        loop = llm_loop(tmp_path, fake.base_url, timed({"1": 0.5, "2": 0.4}), rounds=2)
        loop.run()
        coder = fake.requests_for("coder")
    assert "## Your assignment" not in coder[0].user and "## The numbers" not in coder[0].user
    assert "temperature" in coder[1].body and coder[1].body["temperature"] == 0.2
    assert "## The numbers" in coder[1].user and "time 0.5 ms" in coder[1].user


# ---------------------------------------------------------------- stop rules (fakes)


@dataclass
class FakeCoder:
    name: str = "fake"
    contexts: list[CoderContext] = field(default_factory=list)

    def propose(self, ctx: CoderContext) -> Proposal:
        self.contexts.append(ctx)
        return Proposal(
            source=f"class ModelNew: ...\n# variant {ctx.round}.{ctx.candidate_index}\n"
        )


@dataclass
class FakeJudge:
    """Two ranked bottlenecks per review; `done` for the attempts it names."""

    done_for: set[int] = field(default_factory=set)
    done_all: bool = False
    name: str = "fake"
    reviewed: list[int] = field(default_factory=list)

    def review(self, ctx: JudgeContext) -> Review:
        self.reviewed.append(ctx.attempt.attempt)
        done = self.done_all or ctx.attempt.attempt in self.done_for
        ranked = [Bottleneck(category="b1"), Bottleneck(category="b2")]
        return Review(
            feedback=Feedback(mode="optimize", summary="go on", bottlenecks=ranked, done=done)
        )


def fake_loop(tmp_path, evaluator, judge=None, **cfg) -> tuple[ProblemResult, FakeCoder]:
    config = AgentConfig(agent="llm", **cfg)  # the fakes stand for LLM agents
    coder = FakeCoder()
    loop = ProblemLoop(
        RELU, config, coder, judge or FakeJudge(), evaluator, ProblemDir(tmp_path / "p"),
        BudgetTracker(config.budget),
    )  # fmt: skip
    return loop.run(), coder


def test_the_roofline_fraction_stops_the_search(tmp_path):
    result, _ = fake_loop(tmp_path, timed({"1.0": 0.5}, fraction=0.95), rounds=5)
    assert result.rounds_run == 1
    assert result.stop_reason == "the best kernel reaches 95% of the roofline (stop at 90%)"


@pytest.mark.parametrize("fraction,limit", [(0.5, 0.9), (0.95, None), (None, 0.9)])
def test_below_the_roofline_stop_or_without_a_time_the_search_goes_on(tmp_path, fraction, limit):
    times = {f"{r}.0": 1.0 / r for r in range(1, 4)}
    result, _ = fake_loop(tmp_path, timed(times, fraction=fraction), rounds=3, roofline_stop=limit)
    assert (result.rounds_run, result.stop_reason) == (3, "finished 3 rounds")


def test_a_beam_prunes_a_lineage_whose_time_regresses(tmp_path):
    # round 1: 1.0 and 2.0 ms; round 2: from each, 0.9 (better) and 2.6 (30% slower: pruned)
    times = {"1.0": 1.0, "1.1": 2.0, "2.0": 0.9, "2.1": 2.6, "3.0": 0.8, "3.1": 0.85}
    result, coder = fake_loop(
        tmp_path, timed(times), search="beam", rounds=3, candidates_per_round=2, beam_width=4
    )
    by_variant = {a.attempt: a for a in result.attempts}
    regressed = next(a.attempt for a in by_variant.values() if a.speedup == pytest.approx(1 / 2.6))
    reflection = json.loads((tmp_path / "p" / "reflections" / "002.json").read_text())
    assert regressed not in reflection["kept"] and len(reflection["kept"]) == 3
    round3 = [c for c in coder.contexts if c.round == 3]
    assert round3 and all(c.previous is not None for c in round3)
    assert regressed not in {c.previous.attempt for c in round3 if c.previous}


def test_the_judges_done_retires_a_lineage_in_a_beam(tmp_path):
    times = {"1.0": 1.0, "1.1": 2.0, "2.0": 0.9, "2.1": 0.95}
    judge = FakeJudge(done_for={1})
    _, coder = fake_loop(
        tmp_path, timed(times), judge, search="beam", rounds=2, candidates_per_round=2
    )
    round2 = [c for c in coder.contexts if c.round == 2]
    assert [c.previous.attempt for c in round2 if c.previous] == [2, 2]
    assert sorted(c.direction.category for c in round2 if c.direction) == ["b1", "b2"]


def test_the_judges_done_on_every_lineage_ends_a_beam(tmp_path):
    times = {"1.0": 1.0, "1.1": 2.0}
    result, _ = fake_loop(
        tmp_path, timed(times), FakeJudge(done_all=True), search="beam", rounds=4,
        candidates_per_round=2,
    )  # fmt: skip
    assert result.rounds_run == 1 and result.stop_reason.startswith("every lineage is over")


def test_the_judges_done_stops_a_chain(tmp_path):
    result, _ = fake_loop(tmp_path, timed({"1.0": 1.0}), FakeJudge(done_all=True), rounds=4)
    assert (result.rounds_run, result.stop_reason) == (1, "the Judge has no further suggestion")


# ---------------------------------------------------------------- separate roles


def test_the_judge_runs_on_its_own_endpoint_with_its_own_key_and_cost(tmp_path, monkeypatch):
    monkeypatch.setenv("KW_TEST_JUDGE_KEY", "sk-judge-not-real")
    with FakeOpenAI() as coder_server, FakeOpenAI() as judge_server:
        coder_server.script("coder", Scripted(content=variant(1)))
        judge_server.script("judge", Scripted(content=ranked("memory")))
        judge_llm = LLMSettings(
            model="gpt-4o", base_url=judge_server.base_url, api_key_env="KW_TEST_JUDGE_KEY"
        )
        loop = llm_loop(tmp_path, coder_server.base_url, timed({"1": 0.5}), judge_llm, rounds=1)
        result = loop.run()
    assert [r.route for r in coder_server.requests] == ["coder"]
    assert [r.route for r in judge_server.requests] == ["judge"]
    assert coder_server.requests[0].body["model"] == "gpt-4o-mini"
    assert judge_server.requests[0].body["model"] == "gpt-4o"
    assert coder_server.requests[0].headers["authorization"] == "Bearer sk-test"
    assert judge_server.requests[0].headers["authorization"] == "Bearer sk-judge-not-real"
    roles = result.usage_by_role
    assert roles["coder"].cost_usd == pytest.approx((1000 * 0.15 + 500 * 0.6) / 1e6)
    assert roles["judge"].cost_usd == pytest.approx((1000 * 2.5 + 500 * 10.0) / 1e6)
    saved = json.loads(result.model_dump_json())
    assert saved["usage_by_role"]["judge"]["calls"] == 1
    assert ProblemResult.model_validate(saved).usage_by_role["coder"].calls == 1


def test_a_resumed_beam_redoes_nothing_and_plans_the_same(tmp_path):
    times = {f"{r}.{i}": 1.0 / (r + i) for r in range(1, 5) for i in range(2)}
    cfg = {"search": "beam", "candidates_per_round": 2, "patience": 9}
    fake_loop(tmp_path, timed(times), rounds=2, **cfg)
    whole, coder2 = fake_loop(tmp_path / "again", timed(times), rounds=3, **cfg)
    resumed, coder3 = fake_loop(tmp_path, timed(times), rounds=3, **cfg)
    assert {c.round for c in coder3.contexts} == {3}  # rounds 1 and 2 came from disk
    plan = [(c.previous.attempt if c.previous else None, c.direction) for c in coder3.contexts]
    again = [
        (c.previous.attempt if c.previous else None, c.direction)
        for c in coder2.contexts
        if c.round == 3
    ]
    assert sorted(plan, key=repr) == sorted(again, key=repr)
    assert [a.attempt for a in resumed.attempts] == [a.attempt for a in whole.attempts]
