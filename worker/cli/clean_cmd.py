"""`kwright clean`: what the runs and caches under $KWRIGHT_HOME take, and removing old
ones (`--older-than DAYS`, `--run ID`), `--dry-run` to see what would go, `--yes` to
remove without asking (needed where stdin is no terminal).

A run's or cache entry's age is that of its newest file, so a run still writing is never
old. A run whose run.json says `running` and that wrote within `ACTIVE_S` is skipped even
when named. Cache entries are content-addressed: removing one only costs a recompile.
The job store and any other file in the home are counted, never removed.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from agents.rundir import RunDir, RunFileError
from worker.cli.common import (
    EXIT_NOT_CORRECT,
    EXIT_OK,
    JsonFlag,
    console,
    err_console,
    fail,
    is_terminal,
    print_json,
)
from worker.config import get_settings

DAY_S = 86400.0
ACTIVE_S = 3600.0  # a `running` run that wrote this recently is left alone
# cache folder -> how deep its entries sit (profiler/cache.py: compile/<k[:2]>/<k>/,
# profiles/<k[:2]>/<k>.json; the emulator's precompiled headers: cuda_emu/<fingerprint>/)
CACHE_DEPTH = {"compile": 2, "profiles": 2, "cuda_emu": 1}


@dataclass
class Item:
    kind: str  # "run" or "cache/<name>"
    name: str
    path: Path
    bytes: int
    newest: float  # mtime of its newest file

    def age_days(self, now: float) -> float:
        return max(0.0, (now - self.newest) / DAY_S)

    def row(self, now: float) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "path": str(self.path),
                "bytes": self.bytes, "age_days": round(self.age_days(now), 2)}  # fmt: skip


def measure(path: Path) -> tuple[int, float]:
    """(bytes, newest mtime) of a file or folder, links not followed."""
    try:
        st = path.lstat()
    except OSError:
        return 0, 0.0
    size, newest = st.st_size, st.st_mtime
    if path.is_dir() and not path.is_symlink():
        size = 0  # files' bytes only, as `du --apparent-size` less the folders
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                try:
                    st = os.lstat(os.path.join(root, name))
                except OSError:
                    continue
                size += 0 if name in dirs else st.st_size
                newest = max(newest, st.st_mtime)
    return size, newest


def entries(folder: Path, depth: int) -> list[Path]:
    found = [folder]
    for _ in range(depth):
        found = [c for f in found if f.is_dir() and not f.is_symlink() for c in sorted(f.iterdir())]
    return found


def run_items(runs_dir: Path) -> list[Item]:
    if not runs_dir.is_dir():
        return []
    return [Item("run", d.name, d, *measure(d)) for d in sorted(runs_dir.iterdir()) if d.is_dir()]


def cache_items(cache_root: Path) -> dict[str, list[Item]]:
    found: dict[str, list[Item]] = {}
    if not cache_root.is_dir():
        return found
    for folder in sorted(p for p in cache_root.iterdir() if p.is_dir()):
        depth = CACHE_DEPTH.get(folder.name, 1)
        kind = f"cache/{folder.name}"
        found[kind] = [Item(kind, p.name, p, *measure(p)) for p in entries(folder, depth)]
    return found


def other_bytes(home: Path, skip: set[Path]) -> int:
    if not home.is_dir():
        return 0
    return sum(measure(p)[0] for p in home.iterdir() if p not in skip)


def size_text(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # unreachable


def still_running(rundir: RunDir, item: Item, now: float) -> bool:
    try:
        status = rundir.load_info().status if rundir.exists() else None
    except (RunFileError, OSError, ValueError):
        return False
    return status == "running" and now - item.newest < ACTIVE_S


def remove(path: Path) -> str | None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    return None


def usage_table(groups: dict[str, list[Item]], other: int, home: Path) -> Table:
    table = Table(title=f"what {home} holds")
    for col in ("what", "entries", "size", "oldest (days)"):
        table.add_column(col, no_wrap=col == "what")
    now = time.time()
    for kind, items in groups.items():
        oldest = max((i.age_days(now) for i in items), default=None)
        table.add_row(kind, str(len(items)), size_text(sum(i.bytes for i in items)),
                      "-" if oldest is None else f"{oldest:.1f}")  # fmt: skip
    table.add_row("other (job store ...; not removed)", "-", size_text(other), "-")
    total = other + sum(i.bytes for items in groups.values() for i in items)
    table.add_row("total", "", size_text(total), "")
    return table


def print_selection(groups: dict[str, list[Item]], chosen: list[Item], now: float) -> None:
    """Each run that goes, with its size and age; per cache how many entries and bytes."""
    for i in chosen:
        if i.kind == "run":
            console.print(
                Text(f"run {i.name}: {size_text(i.bytes)}, {i.age_days(now):.1f} days old")
            )
    for kind in [k for k in groups if k != "runs"]:
        mine = [i for i in chosen if i.kind == kind]
        noun = "entry" if len(mine) == 1 else "entries"
        if mine:
            console.print(
                Text(f"{kind}: {len(mine)} {noun}, {size_text(sum(i.bytes for i in mine))}")
            )


def clean_command(
    older_than: Annotated[
        float | None,
        typer.Option(
            min=0.0, metavar="DAYS", help="Remove runs and cache entries older than this."
        ),
    ] = None,
    run: Annotated[
        list[str] | None, typer.Option("--run", metavar="ID", help="Remove this run; repeatable.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would go; remove nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Remove without asking.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Show what runs and caches take; remove old ones (--older-than DAYS, --run ID)."""
    settings = get_settings()
    home, runs_dir, cache_root = settings.home, settings.runs_dir, settings.cache_root
    now = time.time()
    groups = {"runs": run_items(runs_dir), **cache_items(cache_root)}
    other = other_bytes(home, {runs_dir, cache_root})
    by_id = {i.name: i for i in groups["runs"]}
    unknown = [r for r in run or [] if r not in by_id]
    if unknown:
        fail(f"--run {unknown[0]}: no such run in {runs_dir} (see kwright runs)")
    chosen: list[Item] = [by_id[r] for r in dict.fromkeys(run or [])]
    if older_than is not None:
        old = [i for items in groups.values() for i in items if i.age_days(now) > older_than]
        chosen += [i for i in old if i not in chosen]
    active = [i for i in chosen if i.kind == "run" and still_running(RunDir(home, i.name), i, now)]
    chosen = [i for i in chosen if i not in active]
    asked = older_than is not None or bool(run)
    result: dict[str, Any] = {
        "home": str(home),
        "cache_dir": str(cache_root),
        "usage": [
            {"what": k, "entries": len(v), "bytes": sum(i.bytes for i in v)}
            for k, v in groups.items()
        ],
        "other_bytes": other,
        "selected": [i.row(now) for i in chosen],
        "skipped_running": [i.name for i in active],
        "dry_run": dry_run,
        "removed": 0,
        "freed_bytes": 0,
        "errors": [],
    }
    if not as_json:
        console.print(usage_table(groups, other, home))
        for i in active:
            err_console.print(Text(f"kwright: skipped run {i.name}: still running"))
    freeing = size_text(sum(i.bytes for i in chosen))
    if not as_json and asked:
        print_selection(groups, chosen, now)
    if not asked or not chosen or dry_run:
        if as_json:
            print_json(result)
        elif not asked:
            console.print(Text("remove with --older-than DAYS or --run ID (--dry-run first)"))
        else:
            line = f"would remove {len(chosen)} item(s), {freeing}" if chosen else ""
            console.print(Text(line or "nothing to remove"))
        raise typer.Exit(EXIT_OK)
    if not yes:
        if not is_terminal(sys.stdin):
            fail("clean: removing needs --yes where stdin is no terminal (--dry-run only shows)")
        if not typer.confirm(f"Remove {len(chosen)} item(s), {freeing}?", err=True):
            console.print(Text("nothing removed"))
            raise typer.Exit(EXIT_OK)
    errors = [e for e in (remove(i.path) for i in chosen) if e]
    result.update(removed=len(chosen) - len(errors), errors=errors)
    result["freed_bytes"] = sum(i.bytes for i in chosen if not i.path.exists())
    if as_json:
        print_json(result)
    else:
        for error in errors:
            err_console.print(Text(f"kwright: warning: not removed: {error}"))
        console.print(
            Text(f"removed {result['removed']} item(s), freed {size_text(result['freed_bytes'])}")
        )
    raise typer.Exit(EXIT_NOT_CORRECT if errors else EXIT_OK)


def register(app: typer.Typer) -> None:
    app.command("clean")(clean_command)
