"""The HTML board renders in a real browser (Debian's headless chromium): not blank, and
every chart image loads (the page marks each one; the DOM chromium dumps shows it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from worker.leaderboard.build import make_board
from worker.leaderboard.render import render_html

RUNS = Path(__file__).parent / "fixtures" / "leaderboard" / "runs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (tests/setup.sh installs it)"
)


def _chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--hide-scrollbars", f"--user-data-dir={cwd / 'profile'}"]  # fmt: skip
    return subprocess.run(
        [str(CHROMIUM), *flags, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_board_renders_with_every_chart_loaded(tmp_path):
    board, _ = make_board(RUNS, suite="builtin", level=1)
    page = tmp_path / "board.html"
    page.write_text(render_html(board), encoding="utf-8")
    dom = _chromium("--virtual-time-budget=5000", "--dump-dom", page.as_uri(), cwd=tmp_path)
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body is not None, dom.stderr[-2000:]
    assert 'data-charts="3"' in body.group(0) and 'data-charts-loaded="3"' in body.group(0)
    assert dom.stdout.count('data-loaded="yes"') == 3 and 'data-loaded="no"' not in dom.stdout

    shot = tmp_path / "board.png"
    _chromium("--window-size=1400,1800", f"--screenshot={shot}", page.as_uri(), cwd=tmp_path)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 1800)
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    not_white = float((pixels.sum(axis=1) < 720).mean())
    assert not_white > 0.05, f"only {not_white:.1%} of the page is not white"
    assert len(np.unique(pixels, axis=0)) > 200  # text, tables and the charts' colours
