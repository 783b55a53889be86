"""docker-compose.yml describes a fleet the code agrees with (no Docker engine here, so
the file is checked for what the fleet relies on, not run)."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from worker.fleet.queues import check_queue

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read docker-compose.yml")


def test_compose_fleet():
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = spec["services"]
    redis = services["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command and "--requirepass" in command
    workers = {name: s for name, s in services.items() if name.startswith("worker")}
    assert workers
    for name, svc in workers.items():
        assert svc["build"]["dockerfile"] == "Dockerfile" and svc["build"]["context"] == "."
        env = svc["environment"]
        assert (
            env["KWRIGHT_BROKER_URL"].startswith("redis://")
            and "@redis:6379" in env["KWRIGHT_BROKER_URL"]
        )
        assert f"runs:{env['KWRIGHT_HOME']}/runs" in svc["volumes"], name
        assert svc["stop_signal"] == "SIGQUIT"
        cmd = svc["command"]
        assert cmd[:2] == ["kwright", "worker"]
        queues = cmd[cmd.index("--queues") + 1].split(",")
        assert all(check_queue(q) == q for q in queues)
        devices = svc["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["driver"] == "nvidia" and len(devices[0]["device_ids"]) == 1
    assert {"runs", "redis-data"} <= set(spec["volumes"])
