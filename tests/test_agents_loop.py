"""The LLM optimization loop end to end: the real `openai` client against a fake
OpenAI-compatible server on loopback, the real sandbox and harness on the CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.config import AgentConfig, Budget, LLMSettings
from agents.job import run_job
from agents.prompts import PROFILE_SUMMARY_CHARS
from agents.rundir import RunDir
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.result import EvalResult
from sandbox.base import get_sandbox
from sandbox.defaults import default_sandbox_name
from tests.conftest import ROOT
from tests.fake_openai import FakeOpenAI, Scripted

RELU = resolve_problem("level1/2_ReLU")
GOOD = solution_path(RELU).read_text()
BROKEN = GOOD.replace("class ModelNew(nn.Module):", "class ModelNew(nn.Module:")
REPAIR = json.dumps(
    {
        "critical_issue": "unbalanced parenthesis in the class header",
        "why_it_matters": "the file does not parse",
        "minimal_fix": "write `class ModelNew(nn.Module):`",
    }
)
OPTIMIZE = json.dumps(
    {
        "bottleneck": "memory-bound elementwise",
        "method": "wider blocks",
        "plan": ["BLOCK=4096", "num_warps=8"],
    }
)


def fenced(code: str) -> str:
    return f"Plan: one pass over memory.\n\n```python\n{code}```\n"


def config(fake: FakeOpenAI, **kw) -> AgentConfig:
    llm = LLMSettings(
        model="gpt-4o-mini",
        base_url=fake.base_url,
        max_retries=kw.pop("retries", 2),
        request_timeout_s=kw.pop("request_timeout", 30),
        structured_output=kw.pop("structured", True),
    )
    return AgentConfig(agent="llm", llm=llm, **kw)


def run(fake: FakeOpenAI, home: Path, **kw):
    with get_sandbox(default_sandbox_name()) as box:
        return run_job([RELU], config(fake, **kw), home, box, api_key="sk-test-not-a-real-key")


def test_compile_error_is_repaired_then_optimized(tmp_path):
    with FakeOpenAI() as fake:
        fake.script("coder", Scripted(content=fenced(BROKEN)), Scripted(content=fenced(GOOD)))
        fake.script("judge", Scripted(content=REPAIR), Scripted(content=OPTIMIZE))
        rundir, info = run(fake, tmp_path, rounds=2)
        coder, judge = fake.requests_for("coder"), fake.requests_for("judge")
    result = info.results[RELU.id]
    first, second = result.attempts
    assert first.status == "compile_error" and "syntax error" in first.reason
    error_text = first.reason
    # The repair Judge and the round-2 Coder both saw that error verbatim.
    assert judge[0].body["response_format"]["type"] == "json_schema"
    assert error_text in judge[0].user and "Repair mode" in judge[0].system
    assert error_text in coder[1].user and "unbalanced parenthesis" in coder[1].user
    assert error_text not in coder[0].user
    # Round 2 is correct; the optimize Judge got the timing note and the profile section.
    assert second.status == "correct" and second.feedback_mode == "optimize"
    assert "Optimize mode" in judge[1].system and "## Hardware profile" in judge[1].user
    evaluated = EvalResult.model_validate_json(
        (rundir.problem(RELU.id).attempt_dir(2) / "eval.json").read_text()
    )
    assert evaluated.profile is not None and evaluated.profile.kernels
    assert evaluated.profile.summary(PROFILE_SUMMARY_CHARS) in judge[1].user
    assert (rundir.problem(RELU.id).attempt_dir(2) / "profile.json").is_file()
    # The run result: correct, with tokens and cost; every attempt on disk.
    assert result.best is not None and result.best.correct and result.best.attempt == 2
    assert result.usage.calls == 4 and result.usage.prompt_tokens == 4000
    assert result.usage.cost_usd == pytest.approx(4 * (1000 * 0.15 + 500 * 0.6) / 1e6)
    for n in (1, 2):
        d = rundir.problem(RELU.id).attempt_dir(n)
        for name in (
            "prompt.md",
            "reply.md",
            "candidate.py",
            "eval.json",
            "feedback.json",
            "attempt.json",
            "judge_prompt.md",
            "judge_reply.md",
        ):
            assert (d / name).is_file(), d / name
    saved = json.loads(rundir.info_path.read_text())
    assert saved["status"] == "done" and "sk-test" not in rundir.info_path.read_text()


def test_rate_limit_then_success_is_retried(tmp_path):
    with FakeOpenAI() as fake:
        fake.script(
            "coder",
            Scripted(
                status=429,
                raw_body='{"error": {"message": "slow down"}}',
                headers={"retry-after": "0"},
            ),
            Scripted(content=fenced(GOOD)),
        )
        fake.script("judge", Scripted(content=OPTIMIZE))
        _, info = run(fake, tmp_path, rounds=1)
        assert len(fake.requests_for("coder")) == 2
    assert info.results[RELU.id].best.correct


def test_endless_server_errors_end_the_job_within_budget(tmp_path):
    started = time.monotonic()
    with FakeOpenAI() as fake:  # the coder script is empty: every request answers 500
        rundir, info = run(fake, tmp_path, rounds=5, retries=2, budget=Budget(max_wall_s=60))
        # (1 try + 2 client retries) twice: the round is retried once, then the job ends
        assert len(fake.requests_for("coder")) == 6
    result = info.results[RELU.id]
    assert result.status == "failed" and "500" in result.stop_reason
    assert time.monotonic() - started < 60
    assert info.status == "failed" and rundir.exists()


def test_garbage_replies_are_fed_back_as_failures(tmp_path):
    with FakeOpenAI() as fake:
        fake.script(
            "coder",
            Scripted(content="I would use shared memory tiling here."),
            Scripted(raw_body="<html>bad gateway</html>"),
            Scripted(content=fenced(GOOD)),
        )
        fake.script("judge", Scripted(content="not json at all"), Scripted(content=OPTIMIZE))
        _, info = run(fake, tmp_path, rounds=3, retries=0)
        coder = fake.requests_for("coder")
    attempts = info.results[RELU.id].attempts
    assert [a.status for a in attempts] == ["no_candidate", "no_candidate", "correct"]
    assert "has no code" in attempts[0].reason and "not JSON" in attempts[1].reason
    assert "has no code" in coder[1].user  # fed back to the next round
    assert "not JSON" in coder[2].user
    assert info.results[RELU.id].best.correct


def test_json_in_text_judge_and_token_budget(tmp_path):
    with FakeOpenAI() as fake:
        fake.script("coder", Scripted(content=fenced(BROKEN)), Scripted(content=fenced(GOOD)))
        fake.script("judge", Scripted(content="Here you go:\n```json\n" + REPAIR[:-1] + ",}\n```"))
        _, info = run(fake, tmp_path, rounds=5, structured=False, budget=Budget(max_tokens=4000))
        judge = fake.requests_for("judge")
    assert "response_format" not in judge[0].body and '"critical_issue"' in judge[0].system
    result = info.results[RELU.id]
    assert result.attempts[0].feedback_mode == "repair"
    # 1500 tokens per call: round 1 (coder + judge) = 3000; round 2's Coder may still call
    # (3000 < 4000), then the check before its Judge call stops the job.
    assert "budget spent: 4500 of 4000 tokens" in result.stop_reason
    assert [a.judged for a in result.attempts] == [True, False]
    assert result.best is not None and result.best.attempt == 2


def test_parallel_candidates_per_round(tmp_path):
    with FakeOpenAI() as fake:
        fake.script("coder", Scripted(content=fenced(BROKEN)), Scripted(content=fenced(GOOD)))
        fake.script("judge", Scripted(content=OPTIMIZE))
        _, info = run(fake, tmp_path, rounds=1, candidates_per_round=2)
        assert len(fake.requests_for("judge")) == 1  # only the round's pick is reviewed
    statuses = sorted(a.status for a in info.results[RELU.id].attempts)
    assert statuses == ["compile_error", "correct"]
    assert info.results[RELU.id].best.correct


@pytest.mark.slow
def test_killed_run_resumes_from_last_finished_attempt(tmp_path):
    home = tmp_path / "home"
    env = dict(os.environ, PYTHONPATH=str(ROOT), KWRIGHT_HOME=str(home), OPENAI_API_KEY="sk-test")
    with FakeOpenAI() as fake:
        # Round 1 finishes; round 2's Coder reply hangs until the run is killed.
        fake.script(
            "coder", Scripted(content=fenced(BROKEN)), Scripted(content=fenced(GOOD), delay_s=60)
        )
        fake.script("judge", Scripted(content=REPAIR))
        args = [
            sys.executable,
            "-m",
            "worker.cli",
            "run",
            RELU.id,
            "--agent",
            "llm",
            "--base-url",
            fake.base_url,
            "--rounds",
            "2",
            "--json",
        ]
        proc = subprocess.Popen(
            args,
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(fake.requests_for("coder")) < 2:
            time.sleep(0.2)
        assert len(fake.requests_for("coder")) == 2, proc.communicate(timeout=5)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        run_id = next((home / "runs").iterdir()).name
        pdir = RunDir(home, run_id).problem(RELU.id)
        first = pdir.attempt_dir(1) / "attempt.json"
        assert first.is_file()
        first_written = first.stat().st_mtime_ns
        # Resume: round 2 is redone (its partial attempt discarded), round 1 is not.
        fake.script("coder", Scripted(content=fenced(GOOD)))
        fake.script("judge", Scripted(content=OPTIMIZE))
        resumed = subprocess.run(
            [*args, "--resume", run_id],
            check=False,
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        coder = fake.requests_for("coder")
        assert len(coder) == 3 and len(fake.requests_for("judge")) == 2
        assert "syntax error" in coder[2].user  # the resumed round 2 still sees round 1's verdict
    out = json.loads(resumed.stdout)
    assert out["run_id"] == run_id
    assert [a["attempt"] for a in out["problems"][0]["attempts"]] == [1, 2]
    assert first.stat().st_mtime_ns == first_written
    assert out["problems"][0]["best"]["status"] == "correct"
