"""The conformance suite (kernelbench.harness.conformance) against every backend available here.

Each backend runs the suite once, in a driver process whose environment holds fake API
keys (and whose HOME holds a secret file), with the static check off so that the hostile
candidates reach the sandbox. Every case must get its status within the time limit plus
a few seconds, leak no secret into any result or log, write nothing outside scratch,
reach no loopback listener, leave no process behind, and the driver must survive.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kernelbench.harness.conformance import CASES
from tests.conftest import ROOT

# Per candidate step. Warm steps start in ~0.1 s; cold ones import torch first (~5 s on a
# loaded 2-core host). The trusted reference steps have their own, larger limit.
TIMEOUT_S = {"local": 6.0, "none": 15.0, "docker": 45.0}
# For the cases expected to run until their limit (loop, sleep, fork bomb): no need to
# wait for a cold start's worth of time, a timeout is the right verdict either way.
BOUNDED_S = {"local": 6.0, "none": 10.0, "docker": 15.0}
# Beyond the limit: tearing down a fork bomb on a loaded 2-core host takes a few seconds;
# a container also has to be created, started and removed through the engine's API.
SLACK_S = {"local": 12.0, "none": 12.0, "docker": 25.0}
NONE_EXCLUDED = {
    "fork_bomb": "pids",
    "memory_bomb": "memory",
    "loopback_connect": "network",
    "caller_home_secret": "filesystem",
    "parent_proc_environ": "processes",
    "write_outside_scratch": "filesystem",
    "kill_parent": "processes",
    "state_leak_write": "filesystem",
    "state_leak_read": "filesystem",
}


def run_suite(
    tmp_path: Path,
    backend: str,
    config: dict | None = None,
    timeout: float = 900,
    reference_backend: str | None = None,
):
    """Run the driver in its own process with fake secrets; returns (results, log text, secrets)."""
    home = tmp_path / "home"
    home.mkdir()
    fake = {
        "OPENAI_API_KEY": f"sk-conformance-{secrets.token_hex(8)}",
        "KWRIGHT_API_KEY": f"kw-conformance-{secrets.token_hex(8)}",
    }
    (home / "secret.txt").write_text(fake["OPENAI_API_KEY"])
    outside = ROOT / f".conformance-outside-{secrets.token_hex(4)}"
    out, log_file = tmp_path / "results.json", tmp_path / "driver.log"
    env = {k: v for k, v in os.environ.items() if k not in fake}
    env.update(fake, HOME=str(home), PYTHONPATH=str(ROOT))
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "kernelbench.harness.conformance",
                "--backend",
                backend,
                "--config",
                json.dumps(config or {}),
                "--out",
                str(out),
                "--log",
                str(log_file),
                "--outside",
                str(outside),
                "--timeout",
                str(TIMEOUT_S[backend]),
                "--bounded-timeout",
                str(BOUNDED_S[backend]),
                *(["--reference-backend", reference_backend] if reference_backend else []),
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        leftovers = sorted(p.name for p in outside.iterdir()) if outside.exists() else []
        shutil.rmtree(outside, ignore_errors=True)
    assert proc.returncode == 0, f"driver died (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
    assert not leftovers, f"files written outside scratch: {leftovers}"
    results = {r["case"]: r for r in json.loads(out.read_text())}
    log_text = log_file.read_text() + proc.stdout + proc.stderr
    return results, log_text, fake


def check_results(
    results: dict,
    log_text: str,
    fake: dict,
    excluded: dict[str, str],
    backend: str,
) -> None:
    problems = []
    for value in fake.values():
        if value in log_text:
            problems.append("a fake secret appears in the driver's log")
    for case in CASES:
        r = results.get(case.name)
        if r is None:
            problems.append(f"{case.name}: no result (the driver stopped before it)")
            continue
        if case.name in excluded:
            if not r["excluded"] or excluded[case.name] not in r["excluded"]:
                problems.append(f"{case.name}: expected exclusion for {excluded[case.name]}")
            continue
        if r["excluded"]:
            problems.append(f"{case.name}: unexpectedly excluded: {r['excluded']}")
            continue
        expected = [s.value for s in case.expect]
        if r["status"] not in expected:
            problems.append(f"{case.name}: status {r['status']} not in {expected}: {r['reason']}")
        if case.reason_contains and case.reason_contains not in (r["reason"] or ""):
            problems.append(f"{case.name}: reason lacks {case.reason_contains!r}: {r['reason']}")
        limit = (BOUNDED_S if case.bounded_by_timeout else TIMEOUT_S)[backend]
        if r["candidate_step_s"] > limit + SLACK_S[backend]:
            problems.append(f"{case.name}: its step took {r['candidate_step_s']:.1f} s")
        for key in ("secrets_in_result", "written_outside", "leftover_processes"):
            if r[key]:
                problems.append(f"{case.name}: {key} = {r[key]}")
        if r["listener_hits"]:
            problems.append(f"{case.name}: the loopback listener was reached")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_local_backend_contains_every_hostile_candidate(tmp_path):
    results, log_text, fake = run_suite(tmp_path, "local")
    check_results(results, log_text, fake, excluded={}, backend="local")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_none_backend_meets_the_cases_it_claims(tmp_path):
    # The trusted reference steps run warm on `local`; only the candidates pay a cold start.
    results, log_text, fake = run_suite(tmp_path, "none", reference_backend="local")
    check_results(
        results,
        log_text,
        fake,
        excluded=NONE_EXCLUDED,
        backend="none",
    )
