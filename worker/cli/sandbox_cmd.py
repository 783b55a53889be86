"""`kwright sandbox cleanup`: remove what killed workers left behind (containers, step
cgroups and their processes, scratch dirs), found by run id and owner labels."""

from __future__ import annotations

from typing import Annotated

import typer

from sandbox.cleanup import CleanupReport, cleanup_docker, cleanup_local
from worker.cli.common import JsonFlag, console, fail, help_when_bare, print_json

sandbox_app = typer.Typer(name="sandbox", help="Manage sandbox resources.")


@sandbox_app.callback(invoke_without_command=True)
def _group(ctx: typer.Context) -> None:
    """Manage sandbox resources."""
    help_when_bare(ctx)


def _docker_client(url: str | None, report: CleanupReport, required: bool) -> object | None:
    try:
        import docker  # noqa: PLC0415 - heavy library, imported where used
    except ModuleNotFoundError:
        if required:
            fail("--docker-url needs the docker SDK: pip install docker")
        report.notes.append("docker SDK not installed: containers not checked")
        return None
    try:
        client = docker.DockerClient(base_url=url) if url else docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        if required:
            fail(f"no Docker engine reachable at {url}: {exc}")
        report.notes.append("no Docker engine reachable: containers not checked")
        return None
    return client


def cleanup(
    run_id: Annotated[
        str | None, typer.Option(help="Only this run's resources (even if its worker is alive).")
    ] = None,
    all_: Annotated[
        bool,
        typer.Option("--all", help="Every kernelwright resource on this host, owner alive or not."),
    ] = False,
    docker_url: Annotated[
        str | None,
        typer.Option(help="Docker/podman API URL (default: DOCKER_HOST or the default socket)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove leftover containers, step cgroups (killing what runs in them) and scratch dirs.

    Without --run-id or --all, only what belongs to workers that are no longer running."""
    if run_id is not None and all_:
        fail("--run-id and --all exclude each other")
    report = cleanup_local(run_id, all_)
    client = _docker_client(docker_url, report, required=docker_url is not None)
    if client is not None:
        report.containers = cleanup_docker(client, run_id, all_)
    if as_json:
        print_json(
            {
                "cgroups": report.cgroups,
                "scratch": report.scratch,
                "containers": report.containers,
                "notes": report.notes,
            }
        )
        return
    for kind, items in (
        ("container", report.containers),
        ("cgroup", report.cgroups),
        ("scratch dir", report.scratch),
    ):
        for item in items:
            console.print(f"removed {kind} {item}", markup=False, highlight=False)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    console.print(f"{report.total} leftover resource(s) removed")


def register(app: typer.Typer) -> None:
    sandbox_app.command("cleanup")(cleanup)
    app.add_typer(sandbox_app, name="sandbox")
