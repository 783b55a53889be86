"""The run directory's files: statuses are typed where they are read, files written before
the statuses were typed still load, and a status no enum names is refused by file and field."""

from __future__ import annotations

import json
import re

import pytest

from agents.config import AgentConfig
from agents.rundir import AttemptRecord, ProblemDir, RunDir, RunFileError
from agents.status import Unevaluated
from kernelbench.protocol.result import Status


def old_run_json(attempt_status: str = "no_candidate") -> dict:
    """run.json as a run wrote it when statuses were plain strings."""
    attempts = [
        {"attempt": 1, "round": 1, "status": attempt_status, "reason": "no code block"},
        {"attempt": 2, "round": 2, "status": "correct", "correct": True, "speedup": 1.5},
    ]
    best = {"attempt": 2, "round": 2, "status": "correct", "correct": True, "candidate_path": "x"}
    result = {"problem_id": "level1/2_ReLU", "status": "done", "best": best, "attempts": attempts}
    return {
        "schema_version": 1,
        "run_id": "r-old",
        "status": "done",
        "config": AgentConfig().model_dump(mode="json"),
        "problems": ["level1/2_ReLU"],
        "results": {"level1/2_ReLU": result},
    }


def write_run(home, data: dict) -> RunDir:
    rundir = RunDir(home, data["run_id"])
    rundir.root.mkdir(parents=True)
    rundir.info_path.write_text(json.dumps(data), encoding="utf-8")
    return rundir


def test_an_old_run_json_loads_with_typed_statuses(tmp_path):
    info = write_run(tmp_path, old_run_json()).load_info()
    result = info.results["level1/2_ReLU"]
    assert [a.status for a in result.attempts] == [Unevaluated.NO_CANDIDATE, Status.CORRECT]
    assert isinstance(result.attempts[0].status, Unevaluated)
    assert isinstance(result.attempts[1].status, Status) and result.best is not None
    assert result.best.status is Status.CORRECT
    # and it is written back as the same plain strings
    again = json.loads(info.model_dump_json())["results"]["level1/2_ReLU"]
    assert [a["status"] for a in again["attempts"]] == ["no_candidate", "correct"]


def test_an_unknown_status_in_run_json_is_refused_naming_the_file_and_field(tmp_path):
    rundir = write_run(tmp_path, old_run_json(attempt_status="bogus"))
    with pytest.raises(RunFileError) as caught:
        rundir.load_info()
    message = str(caught.value)
    assert str(rundir.info_path) in message
    assert "results.level1/2_ReLU.attempts.0.status" in message
    assert "unknown attempt status 'bogus'" in message and "no_candidate" in message
    assert "\n" not in message


def test_an_unknown_run_or_problem_status_is_refused_too(tmp_path):
    data = old_run_json()
    data["status"] = "exploded"
    with pytest.raises(RunFileError, match="at status: Input should be 'running'"):
        write_run(tmp_path / "a", data).load_info()
    data = old_run_json()
    data["results"]["level1/2_ReLU"]["status"] = "half"
    with pytest.raises(RunFileError, match=r"results\.level1/2_ReLU\.status"):
        write_run(tmp_path / "b", data).load_info()


def test_an_attempt_without_a_candidate_reloads_as_such(tmp_path):
    pdir = ProblemDir(tmp_path / "p")
    pdir.start_attempt(1)
    pdir.finish_attempt(
        AttemptRecord(attempt=1, round=1, status=Unevaluated.NO_CANDIDATE, reason="no code")
    )
    (finished,) = pdir.load()
    assert finished.record.status is Unevaluated.NO_CANDIDATE
    assert finished.view.failure == "no code" and finished.view.source is None


def test_a_bad_attempt_file_is_refused_naming_it(tmp_path):
    pdir = ProblemDir(tmp_path / "p")
    pdir.start_attempt(1)
    marker = pdir.attempt_dir(1) / "attempt.json"
    marker.write_text(json.dumps({"attempt": 1, "round": 1, "status": "great"}))
    with pytest.raises(RunFileError, match=re.escape(f"{marker}: bad AttemptRecord at status")):
        pdir.load()


def test_a_status_given_in_python_is_validated_too():
    with pytest.raises(ValueError, match="unknown attempt status 'nope'"):
        AttemptRecord(attempt=1, round=1, status="nope")  # type: ignore[arg-type]
    assert AttemptRecord(attempt=1, round=1, status="timeout").status is Status.TIMEOUT  # type: ignore[arg-type]
