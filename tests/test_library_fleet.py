"""The kernel library shared through the fleet's Redis (issue 32): a kernel recorded by
worker A (its own KWRIGHT_HOME) is retrieved for a job on worker B (another home), both
pointed at one real redis-server by KWRIGHT_LIBRARY_URL; an entry altered in Redis is
dropped with a log line; the CLI reads the shared library."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from agents.config import AgentConfig
from agents.library.backends import PREFIX
from agents.library.hooks import examples_for, record_verified
from agents.library.store import open_library
from kernelbench.problems.problem import load_problem
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.result import EvalResult, Status
from tests.conftest import kwright
from tests.fake_openai import FakeOpenAI, Scripted
from tests.fleet import WorkerProcess, fleet_env, wait_for
from tests.redis_server import RedisServer, free_port, needs_redis
from tests.test_library import REWRITES, TAIL, UNRELATED
from worker.fleet.jobs import TERMINAL
from worker.fleet.store_redis import RedisJobStore

pytestmark = needs_redis
KERNEL = "# a verified kernel for relu(x @ w.T + b)\nimport triton\n"


@pytest.fixture
def fleet(tmp_path, monkeypatch):
    with RedisServer(tmp_path / "redis", appendonly=False) as server:
        monkeypatch.setenv("KWRIGHT_LIBRARY_URL", server.url)
        yield server, tmp_path / "worker-a", tmp_path / "worker-b"


def problem(folder, name, body):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(body + TAIL)
    return load_problem(folder / f"{name}.py", problem_id=f"test/{name}")


def test_a_kernel_verified_on_worker_a_is_retrieved_on_worker_b(fleet, caplog):
    server, home_a, home_b = fleet
    verified = EvalResult(status=Status.CORRECT, correct=True, backend="triton", device="cpu")
    mine = problem(home_a / "problems", "nested", REWRITES["nested"])
    added = record_verified(mine, KERNEL, verified, AgentConfig(), home=home_a, run_id="job-a")
    assert added is not None
    assert not (home_a / "library" / "entries.jsonl").exists()  # it went to Redis
    theirs = problem(home_b / "problems", "functional", REWRITES["functional"])
    examples = examples_for(theirs, 2000, home=home_b, config=AgentConfig())
    assert [(e.entry.run_id, e.exact) for e in examples] == [("job-a", True)]
    assert KERNEL.strip() in examples[0].render()
    other = problem(home_b / "problems", "unrelated", UNRELATED)
    assert examples_for(other, 2000, home=home_b, config=AgentConfig()) == []

    env = {"KWRIGHT_HOME": str(home_b), "KWRIGHT_LIBRARY_URL": server.url}
    stats = kwright("library", "stats", "--json", env=env)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["hits"] == 1 and json.loads(stats.stdout)["retrievals"] == 2

    # An entry altered in Redis is dropped, by every worker, with a log line.
    client = open_library(home_b).backend.client  # type: ignore[attr-defined]
    line = client.lindex(f"{PREFIX}entries", 0)
    client.lset(f"{PREFIX}entries", 0, line.replace("a verified kernel", "an altered kernel"))
    with caplog.at_level(logging.WARNING, logger="agents.library.store"):
        assert open_library(home_a).entries() == []
    assert f"entry {added.id} was altered (digest mismatch), dropped" in caplog.text


def test_an_unreachable_library_never_fails_a_job(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("KWRIGHT_LIBRARY_URL", f"redis://127.0.0.1:{free_port()}/0")
    mine = problem(tmp_path / "problems", "nested", REWRITES["nested"])
    verified = EvalResult(status=Status.CORRECT, correct=True, backend="triton", device="cpu")
    with caplog.at_level(logging.WARNING, logger="agents.library.hooks"):
        assert examples_for(mine, 2000, home=tmp_path) == []
        assert record_verified(mine, KERNEL, verified, AgentConfig(), home=tmp_path) is None
    assert "library: retrieval failed (ConnectionError" in caplog.text
    assert "library: recording a kernel failed (ConnectionError" in caplog.text


@pytest.mark.slow
def test_a_job_on_worker_b_retrieves_the_kernel_a_job_on_worker_a_verified(tmp_path):
    """Through the fleet itself: two `kwright worker`s with homes of their own and no
    KWRIGHT_LIBRARY_URL (the fleet's Redis is the library's by default). Worker A runs an
    offline job on level2/1_Gemm_Bias_ReLU; then worker B runs an LLM job on the same
    computation written with other names and nesting, and its first Coder prompt carries
    worker A's verified kernel. Neither home holds a library file."""
    gemm = resolve_problem("level2/1_Gemm_Bias_ReLU")
    mine = problem(tmp_path / "problems", "nested", REWRITES["nested"])
    with RedisServer(tmp_path / "redis", appendonly=False) as server:
        store = RedisJobStore(server.url, patient=True)
        client_env = fleet_env(tmp_path / "client", server.url)

        def run_on(name: str, *args: str) -> Path:
            home = tmp_path / f"home-{name}"
            worker = WorkerProcess(name, fleet_env(home, server.url), tmp_path).start(180)
            try:
                out = kwright("submit", *args, "--rounds", "1", "--json", env=client_env)
                assert out.returncode == 0, out.stderr
                (job,) = json.loads(out.stdout)["jobs"]
                done = wait_for(
                    lambda: (j := store.require(job["job_id"])).status in TERMINAL and j,
                    600, f"the job on worker {name}", poll=0.5,
                )  # fmt: skip
                assert done.status == "done", done.state
            finally:
                worker.stop()
            return home

        home_a = run_on("a", gemm.id, "--agent", "baseline")
        with FakeOpenAI() as fake:
            fake.script(
                "coder", Scripted(content=f"```python\n{solution_path(gemm).read_text()}```")
            )
            fake.defaults["judge"] = Scripted(content=json.dumps({"bottleneck": "x", "plan": []}))
            home_b = run_on("b", str(mine.path), "--agent", "llm", "--base-url", fake.base_url)
            first = fake.requests_for("coder")[0].user
        store.close()
    assert f"### Example from {gemm.id} (the same computation)" in first
    assert not list(home_a.rglob("entries.jsonl")) and not list(home_b.rglob("entries.jsonl"))
