"""The README stays a short user's guide and docs/ holds the rest: the README is at most
300 lines, quotes no commit hash (figures and their commits live in docs/benchmarks.md),
and keeps the two quick-start commands; docs/cli.md names every command and option the CLI
registers, and every verdict status is documented; links between the pages resolve, and
the repository paths they quote exist."""

from __future__ import annotations

import functools
import importlib
import re
from pathlib import Path

import pytest
import typer
import typer.main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CLI_PAGE = DOCS / "cli.md"
CLI_MODULE = "worker.cli"  # the package holding the typer app and its command modules

MAX_README_LINES = 300
INSTALL_AND_RUN = "pip install . && kwright run level1/1_Square_matmul"
# A 7-40 character hex word with a digit in it: a commit hash, abbreviated or not.
COMMIT_HASH = re.compile(r"(?<![\w.])(?=[0-9a-f]*\d)[0-9a-f]{7,40}(?!\w)")


def pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def ci_test_command() -> str:
    """The test command `.ci/run` runs: the README must quote this exact line."""
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    return next(line for line in reversed(lines) if line.strip()).strip()


@functools.cache
def cli_commands() -> dict[str, list[str]]:
    """`kwright` command path ("run", "sandbox cleanup") -> its option strings, built from
    the modules the CLI registers, on an app of our own (the real one stays untouched)."""
    cli = importlib.import_module(CLI_MODULE)
    app = typer.Typer()
    for module in dict.fromkeys(cli.COMMANDS.values()):
        importlib.import_module(f"{CLI_MODULE}.{module}").register(app)
    found: dict[str, list[str]] = {}

    def walk(command, path: list[str]) -> None:
        if hasattr(command, "commands"):  # a group: its subcommands
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
            return
        options = [
            o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")
        ]
        found[" ".join(path)] = options

    walk(typer.main.get_command(app), [])
    assert {path.split()[0] for path in found} == set(cli.COMMANDS), (
        "a registered command is missing"
    )
    return found


def cli_section(command: str) -> str:
    """The part of docs/cli.md under the heading "## `kwright COMMAND`"."""
    text = CLI_PAGE.read_text()
    match = re.search(rf"^## `kwright {re.escape(command)}`\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match is not None, f"docs/cli.md has no section '## `kwright {command}`'"
    return match.group(1)


def eval_statuses() -> list[str]:
    from kernelbench.protocol.result import EvalResult

    status_type = EvalResult.model_fields["status"].annotation
    return [s.value for s in status_type]


def test_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move detail to docs/"


def test_readme_quotes_no_commit_hash():
    found = COMMIT_HASH.findall(README.read_text())
    assert not found, f"commit hashes belong in docs/benchmarks.md or docs/CHANGELOG.md: {found}"


def test_the_hash_pattern_finds_hashes_and_nothing_else():
    found = COMMIT_HASH.findall("at 1a8395a, e27846c-82b54f0 and 05abdbc/5b0c52a (0fbd2db7c1)")
    assert found == ["1a8395a", "e27846c", "82b54f0", "05abdbc", "5b0c52a", "0fbd2db7c1"]
    assert not COMMIT_HASH.findall("decade effaced 2026-12-04 sm_100 level1/23 0.1234567 v2")


def test_readme_keeps_the_two_quick_start_commands():
    lines = [line.strip() for line in README.read_text().splitlines()]
    assert INSTALL_AND_RUN in lines
    assert ci_test_command() == "bash tests/setup.sh && python3 -m pytest -n 2"
    assert ci_test_command() in lines, ".ci/run and the README's quick start must agree"


def test_every_command_is_in_the_cli_page():
    text = CLI_PAGE.read_text()
    missing = [path for path in cli_commands() if f"kwright {path}" not in text]
    assert not missing, f"docs/cli.md does not document: {missing}"


@pytest.mark.parametrize("command", sorted(cli_commands()))
def test_every_option_is_in_its_command_section(command):
    section = cli_section(command)
    missing = [o for o in cli_commands()[command] if f"{o}" not in section]
    assert not missing, f"docs/cli.md, kwright {command}: options not documented: {missing}"


def test_every_eval_status_is_documented():
    text = CLI_PAGE.read_text() + README.read_text()
    missing = [s for s in eval_statuses() if f"`{s}`" not in text]
    assert not missing, f"statuses not in docs/cli.md or README.md: {missing}"


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    return {slug(h) for h in re.findall(r"^#+ (.*)$", text, re.M)}


def links(page: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    text = re.sub(r"`[^`\n]*`", "", text)  # code spans: `kernel[grid](...)` is no link
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.name)
def test_links_between_pages_resolve(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in anchors(path)):
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


# A quoted repository path: a top-level folder, then names; no placeholders or globs.
# Upstream KernelBench's own paths ("KernelBench's `scripts/...`") are not ours.
REPO_PATH = re.compile(
    r"(?<!KernelBench's )`((?:agents|kernelbench|sandbox|profiler|worker|tests|scripts|docs)/[\w./-]*)`"
)


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.name)
def test_quoted_repository_paths_exist(page):
    missing = [p for p in REPO_PATH.findall(page.read_text()) if not (ROOT / p).exists()]
    assert not missing, f"{page.name} quotes paths that do not exist (moved?): {missing}"
