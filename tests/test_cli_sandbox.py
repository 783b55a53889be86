"""`kwright sandbox cleanup` on real cgroups, processes and scratch dirs (containers: see
tests/test_sandbox_docker.py)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess

import pytest

from sandbox.base import safe_tag
from sandbox.cgroups import StepCgroup
from sandbox.local import cgroups_usable
from tests.conftest import kwright


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_cleanup_removes_scratch_of_dead_owners_only(tmp_path):
    tag, gone, alive = safe_tag(f"cli-{secrets.token_hex(3)}"), dead_pid(), os.getpid()
    names = {
        "dead_eval": f"kw-eval-{tag}-{gone}-abc",
        "alive_eval": f"kw-eval-{tag}-{alive}-def",
        "dead_zygote": f"kw-sandbox-{gone}-ghi",
        "foreign": "kw-eval-x7y8z9",  # not named by this version: never ours to judge
    }
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / "step.json").write_text("{}")
    proc = kwright("sandbox", "cleanup", "--json", env={"TMPDIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    removed = {os.path.basename(p) for p in json.loads(proc.stdout)["scratch"]}
    assert removed == {names["dead_eval"], names["dead_zygote"]}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [names["alive_eval"], names["foreign"]]
    )
    run_id = tag.replace("_", "-")  # safe_tag maps it back to the same tag
    proc = kwright(
        "sandbox", "cleanup", "--run-id", run_id, "--json", env={"TMPDIR": str(tmp_path)}
    )
    assert {os.path.basename(p) for p in json.loads(proc.stdout)["scratch"]} == {
        names["alive_eval"]
    }


@pytest.mark.skipif(not cgroups_usable(), reason="no writable cgroups here")
def test_cleanup_kills_what_runs_in_a_dead_workers_step_cgroup(tmp_path):
    run_id = f"cli-cg-{secrets.token_hex(3)}"
    group = StepCgroup.create(f"{safe_tag(run_id)}.candidate.{dead_pid()}.abc123", 256, 16)
    mine = StepCgroup.create(f"{safe_tag(run_id)}.candidate.{os.getpid()}.def456", 256, 16)
    assert group is not None and mine is not None
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        for procs in group.procs_files:
            with open(procs, "w") as fh:
                fh.write(str(sleeper.pid))
        proc = kwright("sandbox", "cleanup", "--json", env={"TMPDIR": str(tmp_path)})
        assert proc.returncode == 0, proc.stderr
        removed = json.loads(proc.stdout)["cgroups"]
        assert sorted(removed) == sorted(str(d) for d in group.dirs)
        assert sleeper.wait(timeout=10) == -9  # killed with its cgroup
        assert all(d.exists() for d in mine.dirs)  # its owner (this test) is alive
        proc = kwright(
            "sandbox", "cleanup", "--run-id", run_id, "--json", env={"TMPDIR": str(tmp_path)}
        )
        assert sorted(json.loads(proc.stdout)["cgroups"]) == sorted(str(d) for d in mine.dirs)
    finally:
        sleeper.kill()
        sleeper.wait()
        group.remove()
        mine.remove()


def test_cleanup_rejects_contradictory_options():
    proc = kwright("sandbox", "cleanup", "--run-id", "x", "--all")
    assert proc.returncode == 2 and "exclude each other" in proc.stderr
