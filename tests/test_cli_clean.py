"""`kwright clean` (issue 29, point 9): what the runs and caches under $KWRIGHT_HOME take,
and removing old ones by age (`--older-than DAYS`) or run id (`--run ID`), `--dry-run`,
`--yes` (needed on pipes); a run still writing is never removed. Through the real CLI on
pipes, on a home laid out as kwright lays it out, with file times set back."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from agents.config import AgentConfig
from agents.rundir import RunDir, RunInfo
from tests.conftest import kwright

DAY = 86400.0
OLD, NEW, ACTIVE = "20261101-090000-aaaaaa", "20261206-090000-bbbbbb", "20261207-090000-cccccc"
OLD_KEY, NEW_KEY = "ab" + "0" * 62, "cd" + "1" * 62


def age(path: Path, days: float) -> None:
    """Set back every file's and folder's time under `path` by `days`."""
    stamp = time.time() - days * DAY
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.utime(Path(root) / name, (stamp, stamp))
    os.utime(path, (stamp, stamp))


def make_run(home: Path, run_id: str, status: str, days: float) -> None:
    RunDir(home, run_id).save_info(RunInfo(run_id=run_id, config=AgentConfig(), status=status))
    attempt = home / "runs" / run_id / "level1" / "2_ReLU" / "001"
    attempt.mkdir(parents=True)
    (attempt / "candidate.py").write_text("x = 1\n" * 2000)
    age(home / "runs" / run_id, days)


@pytest.fixture
def home(tmp_path) -> Path:
    home = tmp_path / "home"
    make_run(home, OLD, "done", 40)
    make_run(home, NEW, "done", 1)
    make_run(home, ACTIVE, "running", 0)  # a run going on now
    cache = home / "cache"
    for key, days in ((OLD_KEY, 40), (NEW_KEY, 1)):
        entry = cache / "compile" / key[:2] / key
        entry.mkdir(parents=True)
        (entry / "meta.json").write_text("{}" * 500)
        age(entry, days)
        profile = cache / "profiles" / key[:2] / f"{key}.json"
        profile.parent.mkdir(parents=True)
        profile.write_text("{}")
        age(profile, days)
    pch = cache / "cuda_emu" / "878bdbb936fd0a4dd2745fe2"
    pch.mkdir(parents=True)
    (pch / "kw_cuda.h.gch").write_bytes(b"\0" * 200_000)
    age(pch, 40)
    (home / "jobs.sqlite").write_bytes(b"\0" * 4096)
    age(home / "jobs.sqlite", 400)
    return home


def clean(home: Path, *args: str):
    env = {"KWRIGHT_HOME": str(home), "KWRIGHT_CACHE_DIR": str(home / "cache"), "COLUMNS": "40"}
    return kwright("clean", *args, env=env, timeout=120)


def test_clean_shows_what_runs_and_caches_take_and_removes_nothing(home):
    proc = clean(home)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split("│")[1].strip(): line for line in proc.stdout.splitlines() if "│" in line}
    assert set(rows) >= {"runs", "cache/compile", "cache/profiles", "cache/cuda_emu", "total"}
    assert "│ 3 " in rows["runs"] and "│ 2 " in rows["cache/compile"]
    assert "195.3 KiB" in rows["cache/cuda_emu"]  # 200 000 bytes, uncut on a pipe
    assert "remove with --older-than DAYS or --run ID" in proc.stdout
    assert all((home / "runs" / r).is_dir() for r in (OLD, NEW, ACTIVE))


def test_dry_run_lists_what_would_go(home):
    proc = clean(home, "--older-than", "30", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert f"run {OLD}: " in proc.stdout and NEW not in proc.stdout
    assert "cache/compile: 1 entry," in proc.stdout and "cache/cuda_emu: 1 entry," in proc.stdout
    assert "would remove 4 item(s)" in proc.stdout  # a run, and one entry of each cache
    assert (home / "runs" / OLD).is_dir() and (home / "cache" / "compile" / "ab" / OLD_KEY).is_dir()


def test_removing_on_a_pipe_needs_yes(home):
    proc = clean(home, "--older-than", "30")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "kwright: error: clean: removing needs --yes where stdin is no terminal "
        "(--dry-run only shows)"
    ]
    assert (home / "runs" / OLD).is_dir()


def test_older_than_removes_old_runs_and_cache_entries(home):
    proc = clean(home, "--older-than", "30", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "removed 4 item(s), freed" in proc.stdout
    assert not (home / "runs" / OLD).exists()
    assert (home / "runs" / NEW).is_dir() and (home / "runs" / ACTIVE).is_dir()
    assert not (home / "cache" / "compile" / "ab" / OLD_KEY).exists()
    assert (home / "cache" / "compile" / "cd" / NEW_KEY).is_dir()
    assert (home / "cache" / "profiles" / "cd" / f"{NEW_KEY}.json").is_file()
    assert not (home / "cache" / "cuda_emu" / "878bdbb936fd0a4dd2745fe2").exists()
    assert (home / "jobs.sqlite").is_file()  # the job store is never removed


def test_run_removes_one_run_and_spares_a_running_one(home):
    proc = clean(home, "--run", NEW, "--run", ACTIVE, "--yes", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [s["name"] for s in data["selected"]] == [NEW]
    assert data["skipped_running"] == [ACTIVE] and data["removed"] == 1
    assert data["freed_bytes"] > 12_000 and data["errors"] == []
    assert not (home / "runs" / NEW).exists() and (home / "runs" / ACTIVE).is_dir()
    assert (home / "runs" / OLD).is_dir()

    unknown = clean(home, "--run", "no-such-run", "--yes")
    assert unknown.returncode == 2 and "--run no-such-run: no such run" in unknown.stderr
