"""`kwright library list|show|export|import|stats`: the kernel library under
$KWRIGHT_HOME/library (agents.library): what it holds, one entry in full, moving it between
machines as JSON lines, and how often retrieval found something.

Altered entries are dropped with a warning on stderr wherever the library is read; an
import refuses lines whose digest does not match and signs what it keeps with this
machine's key.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from agents.library.store import LibraryEntry, LibraryStore, open_library
from worker.cli.common import EXIT_NOT_CORRECT, JsonFlag, console, fail, help_when_bare, print_json
from worker.config import get_settings

library_app = typer.Typer(name="library", help="The library of verified kernels.")


@library_app.callback(invoke_without_command=True)
def _group(ctx: typer.Context) -> None:
    """The library of verified kernels (list, show, export, import, stats)."""
    help_when_bare(ctx)


def _store() -> LibraryStore:
    return open_library(get_settings().home)


def _speed(entry: LibraryEntry) -> str:
    return "not timed" if entry.speedup is None else f"{entry.speedup:.2f}x"


def _row(entry: LibraryEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "problem_id": entry.problem_id,
        "ops": entry.signature.text(),
        "backend": entry.backend,
        "target_gpu": entry.target_gpu,
        "policy": entry.policy,
        "precision": entry.precision,
        "speedup": entry.speedup,
        "created_at": entry.created_at,
    }


def list_command(
    problem: Annotated[
        str | None, typer.Option(help="Only entries whose problem id contains this.")
    ] = None,
    backend: Annotated[str | None, typer.Option(help="Only this backend's entries.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the library's entries, newest first."""
    entries = [
        e
        for e in reversed(_store().entries())
        if (problem is None or problem in e.problem_id) and (backend in (None, e.backend))
    ]
    if as_json:
        print_json([_row(e) for e in entries])
        return
    if not entries:
        console.print(Text("the library is empty (correct kernels are added as jobs finish)"))
        return
    table = Table(title=f"{len(entries)} verified kernel(s)")
    for col in ("id", "problem", "ops", "backend", "target", "policy", "speedup"):
        table.add_column(col, no_wrap=col in ("id", "problem"))
    for e in entries:
        table.add_row(e.id, e.problem_id, e.signature.text(), e.backend, e.target_gpu or "-",
                      e.policy, _speed(e))  # fmt: skip
    console.print(table)


def find(entry_id: str) -> LibraryEntry:
    matches = [e for e in _store().entries() if e.digest.startswith(entry_id)]
    if not matches:
        fail(f"library: no entry {entry_id!r} (see kwright library list)")
    if len(matches) > 1:
        fail(f"library: {entry_id!r} names {len(matches)} entries; give more of the id")
    return matches[0]


def show_command(
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="An entry id (or its prefix).")],
    as_json: JsonFlag = False,
) -> None:
    """Show one entry: its signature, target, speedup, lessons and verified source."""
    entry = find(entry_id)
    if as_json:
        print_json(entry.model_dump(mode="json", exclude={"mac"}))
        return
    lines = [
        f"entry {entry.id}  problem {entry.problem_id}",
        f"ops: {entry.signature.text()}",
        f"backend {entry.backend}, policy {entry.policy}, target {entry.target_gpu or '-'} "
        f"({entry.arch or '-'}), precision {entry.precision or '-'}, speedup {_speed(entry)}",
        f"verified on {entry.device or '-'} by {entry.agent or '-'}"
        + (f" ({entry.model})" if entry.model else "")
        + (f" in run {entry.run_id}" if entry.run_id else "")
        + f", {entry.created_at}",
    ]
    if entry.profile:
        lines.append(f"profile: {entry.profile}")
    lines += [f"lesson: {lesson}" for lesson in entry.lessons]
    for line in lines:
        console.print(Text(line))
    console.print(Text("source:"))
    console.print(Text(entry.source.rstrip()))  # plain: piped, it stays a file one can save


def export_command(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here (default: stdout).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write every intact entry as JSON lines (digests kept, this machine's key not)."""
    rows = _store().export_lines()
    text = "".join(rows)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"library export: cannot write {out}: {exc.strerror or exc}")
    if as_json:
        print_json({"exported": len(rows), "out": str(out)})
    else:
        console.print(Text(f"exported {len(rows)} entr{'y' if len(rows) == 1 else 'ies'} to {out}"))


def import_command(
    file: Annotated[Path, typer.Argument(help="A file written by `kwright library export`.")],
    as_json: JsonFlag = False,
) -> None:
    """Add the entries of an export whose digests check out; exit 1 if any was refused."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        fail(f"library import: cannot read {file}: {exc.strerror or exc}")
    added, refused = _store().import_lines(lines, str(file))
    total = sum(1 for line in lines if line.strip())
    result = {"added": len(added), "already_present": total - len(added) - refused,
              "refused": refused}  # fmt: skip
    if as_json:
        print_json(result)
    else:
        console.print(Text(f"imported {result['added']}, already present "
                           f"{result['already_present']}, refused {refused} (altered)"))  # fmt: skip
    if refused:
        raise typer.Exit(EXIT_NOT_CORRECT)


def stats_command(as_json: JsonFlag = False) -> None:
    """What the library holds and how often retrieval found a worked example."""
    store = _store()
    entries = store.entries()
    records = store.retrievals()
    hits = [r for r in records if r.offered]
    offered = Counter(i for r in records for i in r.offered)
    by_id = {e.id: e for e in entries}
    result: dict[str, Any] = {
        "entries": len(entries),
        "problems": len({e.problem_id for e in entries}),
        "by_backend": dict(Counter(e.backend for e in entries)),
        "retrievals": len(records),
        "hits": len(hits),
        "exact_hits": sum(1 for r in records if r.exact),
        "hit_rate": round(len(hits) / len(records), 4) if records else None,
        "mean_tokens": round(sum(r.tokens for r in hits) / len(hits), 1) if hits else None,
        "most_offered": [
            {"id": i, "problem_id": by_id[i].problem_id if i in by_id else None, "times": n}
            for i, n in offered.most_common(5)
        ],
    }
    if as_json:
        print_json(result)
        return
    table = Table(title=f"kernel library ({store.where})")
    table.add_column("what")
    table.add_column("value")
    rate = "-" if result["hit_rate"] is None else f"{100 * result['hit_rate']:.0f}%"
    rows = [
        ("entries", str(result["entries"])),
        ("problems", str(result["problems"])),
        ("by backend", ", ".join(f"{k} {v}" for k, v in result["by_backend"].items()) or "-"),
        ("retrievals", str(result["retrievals"])),
        ("hits (>= 1 example)", f"{result['hits']} ({rate})"),
        ("exact-signature hits", str(result["exact_hits"])),
        ("mean tokens per hit", str(result["mean_tokens"] or "-")),
    ]
    rows += [(f"offered {m['times']}x", f"{m['id']} {m['problem_id'] or '(gone)'}")
             for m in result["most_offered"]]  # fmt: skip
    for what, value in rows:
        table.add_row(what, value)
    console.print(table)


def register(app: typer.Typer) -> None:
    library_app.command("list")(list_command)
    library_app.command("show")(show_command)
    library_app.command("export")(export_command)
    library_app.command("import")(import_command)
    library_app.command("stats")(stats_command)
    app.add_typer(library_app, name="library")
