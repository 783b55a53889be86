"""Every command, fed bad input, answers as documented: exit 2, one line on stderr naming
the option or file and the fault, and under --json the error object on stdout."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import kwright

R = "level1/2_ReLU"

# (command line, what the one stderr line must name). Each runs with --json appended where
# the command takes it; a few more run without it below.
CASES: list[tuple[str, str]] = [
    ("bogus", "No such command 'bogus'"),
    ("problems --level abc", "'--level'"),
    ("problems --level 0", "'--level'"),
    ("problems --suite /nonexistent", "/nonexistent"),
    ("eval", "Missing argument"),
    (f"eval {R}", "Missing argument 'candidate'"),
    ("eval level9/1_X @solution", "level9/1_X"),
    (f"eval {R} /nonexistent/cand.py", "no such candidate file"),
    (f"eval {R} @solution --device tpu", "'--device'"),
    (f"eval {R} @solution --timeout 0", "'--timeout'"),
    (f"eval {R} @solution --sandbox bogus", "unknown sandbox 'bogus'"),
    (f"profile {R} @solution --arch sm_75", "'--arch'"),
    (f"profile {R} @solution --gpu Voodoo", "unknown GPU 'Voodoo'"),
    (f"profile {R} /nonexistent/cand.py", "no such candidate file"),
    ("run", "name at least one PROBLEM"),
    ("run level9/1_X", "level9/1_X"),
    (f"run {R} --max-usd -1", "'--max-usd'"),
    (f"run {R} --max-tokens-budget -5", "'--max-tokens-budget'"),
    (f"run {R} --max-wall -3", "'--max-wall'"),
    (f"run {R} --max-wall 0", "'--max-wall'"),
    (f"run {R} --request-timeout 0", "'--request-timeout'"),
    (f"run {R} --temperature -2", "'--temperature'"),
    (f"run {R} --temperature 3", "'--temperature'"),
    (f"run {R} --rounds 0", "'--rounds'"),
    (f"run {R} --level abc", "'--level'"),
    (f"run {R} --backend rust", "'--backend'"),
    (f"run {R} --reasoning-effort huge", "'--reasoning-effort'"),
    (f"run {R} --gpu Voodoo", "--gpu"),
    (f"run {R} --arch sm_75", "--arch"),
    (f"run {R} --agent llm", "--agent llm needs an endpoint"),
    (f"run {R} --provider bogus", "'--provider': unknown LLM provider 'bogus' (known: openai)"),
    (f"run {R} --resume nope", "nope: no such run"),
    (f"run {R} --no-such-option", "No such option: --no-such-option"),
    (f"submit {R} --queue BAD", "'BAD' is not a queue name"),
    ("submit level9/1_X", "level9/1_X"),
    (f"submit {R} --max-usd -1", "'--max-usd'"),
    (f"submit {R} --provider bogus", "'--provider': unknown LLM provider 'bogus'"),
    ("status nosuch", "nosuch: no such job"),
    ("status --limit 0", "'--limit'"),
    ("watch nosuch", "nosuch: no such job"),
    ("watch nosuch --interval 0", "'--interval'"),
    ("cancel nosuch", "nosuch: no such job"),
    ("results nosuch", "nosuch: no such job"),
    ("results b-1", "results takes a job id"),
    ("leaderboard --format xml", "'--format'"),
    ("leaderboard --runs-dir /nonexistent", "--runs-dir /nonexistent"),
    ("leaderboard --suite /nonexistent", "/nonexistent"),
    ("leaderboard --level 0", "'--level'"),
    ("leaderboard --baseline fastest", "'--baseline'"),
    ("sandbox cleanup --run-id x --all", "--run-id and --all"),
    ("sandbox nothing", "No such command 'nothing'"),
]
NO_JSON = [  # commands without --json
    ("worker --concurrency 0", "'--concurrency'"),
    ("worker --queues BAD", "'BAD' is not a queue name"),
]
SETTINGS = [  # bad KWRIGHT_ settings: the line names the variable
    ({"KWRIGHT_LOG_LEVEL": "bogus"}, "problems", "KWRIGHT_LOG_LEVEL='BOGUS'"),
    ({"KWRIGHT_LEASE_S": "-1"}, "status", "KWRIGHT_LEASE_S"),
    ({"KWRIGHT_SOFT_TIME_LIMIT_S": "ten"}, "submit " + R, "KWRIGHT_SOFT_TIME_LIMIT_S"),
]


@pytest.fixture
def env(tmp_path):
    """A private home and no LLM key, broker or sandbox choice from the caller."""
    return {
        "KWRIGHT_HOME": str(tmp_path / "home"),
        "OPENAI_API_KEY": "",
        "KWRIGHT_API_KEY": "",
        "KWRIGHT_BROKER_URL": "",
        "KWRIGHT_STORE_URL": "",
        "KWRIGHT_SANDBOX": "",
    }


def one_line(proc, needle: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("kwright: error: ") and needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(("line", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line_and_a_json_error(env, line, needle):
    proc = kwright(*line.split(), "--json", env=env)
    stderr_line = one_line(proc, needle)
    error = json.loads(proc.stdout)
    assert error["error"] == stderr_line.removeprefix("kwright: error: ")
    assert error["kind"] in ("usage", "bad_input")


@pytest.mark.parametrize(("line", "needle"), NO_JSON, ids=[c[0] for c in NO_JSON])
def test_bad_input_without_json_leaves_stdout_empty(env, line, needle):
    proc = kwright(*line.split(), env=env)
    one_line(proc, needle)
    assert proc.stdout == ""


@pytest.mark.parametrize(("bad", "line", "needle"), SETTINGS, ids=[s[2] for s in SETTINGS])
def test_a_bad_setting_is_one_line_naming_the_variable(env, bad, line, needle):
    proc = kwright(*line.split(), "--json", env={**env, **bad})
    one_line(proc, needle)
    assert json.loads(proc.stdout)["kind"] == "config"


def test_usage_errors_are_one_line_without_json_too(env):
    proc = kwright("run", R, "--rounds", "0", env=env)
    assert "see kwright run --help" in one_line(proc, "'--rounds'")
    assert proc.stdout == ""


def test_version_and_completion():
    version = kwright("--version")
    assert version.returncode == 0 and re.fullmatch(r"kwright \S+.*\n", version.stdout)
    shown = kwright("--show-completion", env={"SHELL": "/bin/bash"})
    assert shown.returncode == 0 and "complete" in shown.stdout and "kwright" in shown.stdout


def test_resuming_a_run_whose_run_json_has_an_unknown_status_is_one_line(env, tmp_path):
    run_json = tmp_path / "home" / "runs" / "r-bad" / "run.json"
    run_json.parent.mkdir(parents=True)
    attempt = {"attempt": 1, "round": 1, "status": "splendid"}
    result = {"problem_id": R, "attempts": [attempt]}
    run_json.write_text(json.dumps({"run_id": "r-bad", "config": {}, "results": {R: result}}))
    proc = kwright("run", R, "--resume", "r-bad", "--json", env=env)
    line = one_line(proc, f"--resume r-bad: {run_json}: bad RunInfo at results.{R}.attempts.0")
    assert "unknown attempt status 'splendid'" in line
    assert json.loads(proc.stdout)["kind"] == "bad_input"
