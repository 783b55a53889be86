"""Bad combinations and unwritable homes are refused up front (issue 29, point 8): one
line on stderr, exit 2, no traceback, nothing run; under --json the error object."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.config import AgentConfig, LLMSettings
from agents.rundir import RunDir, RunInfo
from tests.conftest import kwright

R = "level1/2_ReLU"


@pytest.fixture
def env(tmp_path):
    return {
        "KWRIGHT_HOME": str(tmp_path / "home"),
        "OPENAI_API_KEY": "",
        "KWRIGHT_API_KEY": "",
        "KWRIGHT_BROKER_URL": "",
        "KWRIGHT_STORE_URL": "",
        "KWRIGHT_SANDBOX": "",
    }


def refused(proc, needle: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr  # one line: no traceback, no progress
    assert lines[0].startswith("kwright: error: ") and needle in lines[0], lines[0]
    return lines[0]


CUDA = "--backend cuda: the baseline agent writes Triton"
COMBOS = [
    (f"run {R} --backend cuda", CUDA),  # the offline default agent is the baseline
    (f"run {R} --agent baseline --backend cuda", CUDA),
    (f"submit {R} --agent baseline --backend cuda", CUDA),
    (
        f"run {R} --model gpt-4o",
        "--model: only the LLM agent reads it, and the baseline agent runs "
        "(no OPENAI_API_KEY/KWRIGHT_API_KEY)",
    ),
    (
        f"run {R} --agent baseline --base-url http://127.0.0.1:9/v1 --max-usd 1",
        "--base-url, --max-usd: only the LLM agent reads them, and the baseline agent runs "
        "(--agent baseline)",
    ),
    (f"submit {R} --temperature 0.5", "--temperature: only the LLM agent reads it"),
    (f"run {R} --level 1", "name PROBLEMs or pass --level (all of a level), not both"),
    (f"submit {R} --level 1", "name PROBLEMs or pass --level"),
]


@pytest.mark.parametrize(("line", "needle"), COMBOS, ids=[c[0] for c in COMBOS])
def test_a_bad_combination_is_refused_in_one_line(env, line, needle):
    proc = kwright(*line.split(), "--json", env=env, timeout=120)
    stderr_line = refused(proc, needle)
    assert json.loads(proc.stdout) == {
        "error": stderr_line.removeprefix("kwright: error: "),
        "kind": "bad_input",
    }
    assert not (env_home(env) / "runs").exists() and not (env_home(env) / "jobs.sqlite").exists()


def env_home(env: dict[str, str]) -> Path:
    return Path(env["KWRIGHT_HOME"])


@pytest.mark.parametrize(
    "line", [f"run {R} --rounds 1", f"submit {R}", "worker", "status", "results j-0123456789"]
)
def test_an_unwritable_home_is_refused_before_any_work(env, tmp_path, line):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    home = blocker / "home"  # cannot be created, whoever runs the test (root included)
    proc = kwright(*line.split(), env={**env, "KWRIGHT_HOME": str(home)}, timeout=120)
    refused(proc, f"KWRIGHT_HOME {home} is not a writable folder")
    assert proc.stdout == ""


@pytest.fixture
def llm_run(tmp_path):
    """A recorded LLM run of R (model m1, 3 rounds) that never got to run."""
    home = tmp_path / "home"
    config = AgentConfig(
        agent="llm", llm=LLMSettings(model="m1", base_url="http://127.0.0.1:9/v1"), rounds=3
    )
    RunDir(home, "r-llm").save_info(RunInfo(run_id="r-llm", config=config, problems=[R]))
    RunDir(home, "r-file").save_info(
        RunInfo(run_id="r-file", config=config, problems=["my_own_problem"])
    )
    return home


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["--model", "m2"],
            "--resume r-llm keeps the run's settings (only --rounds may change): "
            "--model m2 (the run's: m1)",
        ),
        (["--candidates", "2", "--patience", "9"], "--candidates 2 (the run's: 1); --patience 9"),
        (["level1/4_Softmax"], "level1/4_Softmax is not a problem of that run"),
        (["--resume", "nope"], "nope: no such run"),
    ],
)
def test_a_resume_that_does_not_match_its_run_is_refused(env, llm_run, args, needle):
    proc = kwright("run", "--resume", "r-llm", *args, env=env, timeout=120)
    refused(proc, needle)
    assert RunDir(llm_run, "r-llm").load_info().status == "running"  # untouched


def test_resuming_a_run_whose_problem_file_is_gone_names_it(env, llm_run):
    proc = kwright("run", "--resume", "r-file", "--json", env=env, timeout=120)
    refused(proc, "--resume r-file: the run's problem my_own_problem:")
    assert "name its file again, or pass --suite" in proc.stderr
