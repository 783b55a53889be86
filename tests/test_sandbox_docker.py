"""The docker backend against a real engine: podman's Docker-compatible API with runc,
started by these tests (tests/podman_engine.py), with an image they build locally."""

from __future__ import annotations

import json
import os
import secrets
import subprocess

import pytest

from kernelbench.harness.evaluate import evaluate
from kernelbench.harness.steps import STEP_PROGRAM
from kernelbench.problems.registry import resolve_problem, solution_path
from kernelbench.protocol.request import EvalOptions
from kernelbench.protocol.result import Status
from sandbox.base import SandboxJob, SandboxUnavailable, get_sandbox
from sandbox.docker_backend import LABEL_OWNER, LABEL_RUN
from tests.conftest import kwright
from tests.podman_engine import podman_engine, podman_missing
from tests.test_sandbox_conformance import check_results, run_suite

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(podman_missing() is not None, reason=str(podman_missing())),
]
RELU = resolve_problem("level1/2_ReLU")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    with podman_engine(tmp_path_factory.mktemp("podman")) as eng:
        yield eng


@pytest.fixture(scope="module")
def box(engine):
    sandbox = get_sandbox("docker", **engine.sandbox_config())
    yield sandbox
    sandbox.close()


def our_containers(box, run_id: str) -> list:
    return box.client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={run_id}"})


def test_unreachable_engine_is_unavailable_with_a_clear_message(tmp_path):
    with pytest.raises(SandboxUnavailable, match="no Docker engine reachable"):
        get_sandbox("docker", base_url=f"unix://{tmp_path}/absent.sock")


def test_container_spec_isolates_labels_and_requests_gpus_only_for_cuda(box, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    job = SandboxJob(
        program=STEP_PROGRAM,
        workdir=tmp_path,
        run_id="spec-run",
        label="candidate",
        readonly_paths=[cache],
    )
    spec = box.container_spec(job, tmp_path)
    assert spec["network_mode"] == "none" and spec["read_only"] is True
    assert spec["cap_drop"] == ["ALL"] and "no-new-privileges" in spec["security_opt"]
    assert spec["mem_limit"] == spec["memswap_limit"] == f"{job.limits.memory_mb}m"
    assert spec["pids_limit"] == job.limits.pids and spec["user"] == "65534:65534"
    assert spec["labels"][LABEL_RUN] == "spec-run" and spec["labels"][LABEL_OWNER].endswith(
        f":{os.getpid()}"
    )
    mounts = {m["Target"]: m for m in spec["mounts"]}
    assert mounts[str(tmp_path)]["ReadOnly"] is False
    assert mounts[str(cache)]["ReadOnly"] is True
    assert "OPENAI_API_KEY" not in spec["environment"]
    assert "device_requests" not in spec
    # No GPU here: what a CUDA step would ask the engine for is checked on the spec.
    gpu = box.container_spec(job.model_copy(update={"device": "cuda"}), tmp_path)
    [request] = gpu["device_requests"]
    assert request["Count"] == -1 and request["Capabilities"] == [["gpu"]]


def test_eval_in_containers_and_every_container_removed(box, tmp_path):
    run_id = f"docker-eval-{secrets.token_hex(3)}"
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "entry.bin").write_text("cached")
    options = EvalOptions(trials=1, extra_shapes=False, timeout_s=120)
    good = evaluate(
        RELU, solution_path(RELU).read_text(), options, box, run_id=run_id, readonly_paths=[cache]
    )
    assert good.status == Status.CORRECT, (good.reason, good.messages[-2000:])
    assert good.sandbox == "docker"
    bad = evaluate(RELU, solution_path(RELU, wrong=True).read_text(), options, box, run_id=run_id)
    assert bad.status == Status.INCORRECT, bad.reason
    assert our_containers(box, run_id) == []
    assert [p.name for p in cache.iterdir()] == ["entry.bin"]


def test_cleanup_removes_containers_of_dead_workers_only(box, engine):
    run_id = f"cleanup-{secrets.token_hex(3)}"
    dead = subprocess.Popen(["true"])
    dead.wait()
    python = engine.sandbox_config()["python"]
    from docker.types import Mount

    mounts = [Mount(p, p, type="bind", read_only=True) for p in engine.toolchain_mounts]
    owners = {
        "dead": f"{os.uname().nodename}:{dead.pid}",
        "alive": f"{os.uname().nodename}:{os.getpid()}",
    }
    for who, owner in owners.items():
        box.client.containers.create(
            engine.image,
            [python, "-c", "import time; time.sleep(600)"],
            name=f"kw-{run_id}-{who}",
            labels={LABEL_RUN: run_id, LABEL_OWNER: owner},
            mounts=mounts,
            network_mode="none",
        ).start()
    proc = kwright("sandbox", "cleanup", "--docker-url", engine.base_url, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["containers"] == [f"kw-{run_id}-dead"]
    assert [c.name for c in our_containers(box, run_id)] == [f"kw-{run_id}-alive"]
    proc = kwright(
        "sandbox", "cleanup", "--docker-url", engine.base_url, "--run-id", run_id, "--json"
    )
    assert json.loads(proc.stdout)["containers"] == [f"kw-{run_id}-alive"]
    assert our_containers(box, run_id) == []


@pytest.mark.slow
def test_cli_eval_with_the_docker_sandbox(engine):
    cfg = engine.sandbox_config()
    env = {
        "KWRIGHT_DOCKER_URL": cfg["base_url"],
        "KWRIGHT_DOCKER_IMAGE": cfg["image"],
        "KWRIGHT_DOCKER_PYTHON": cfg["python"],
        "KWRIGHT_DOCKER_MOUNTS": os.pathsep.join(cfg["toolchain_mounts"]),
        "KWRIGHT_DOCKER_MOUNT_PROJECT": "1",
    }
    proc = kwright(
        "eval",
        "level1/2_ReLU",
        "@solution",
        "--sandbox",
        "docker",
        "--trials",
        "1",
        "--json",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "correct" and result["sandbox"] == "docker"


@pytest.mark.slow
@pytest.mark.timeout(2400)  # ~20 cold container steps: minutes on a loaded 2-core host
def test_docker_backend_contains_every_hostile_candidate(engine, tmp_path):
    # The trusted reference steps run on `local`: only the candidates' steps need the
    # container, and a cold container step costs several seconds of imports.
    results, log_text, fake = run_suite(
        tmp_path, "docker", engine.sandbox_config(), timeout=1800, reference_backend="local"
    )
    check_results(
        results,
        log_text,
        fake,
        excluded={},
        backend="docker",
    )
