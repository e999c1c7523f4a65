"""The image preview draws half blocks and never talks to the terminal (Textual owns stdin while it runs)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys

import pytest

pytest.importorskip("textual_image", reason="textual-image draws the preview's images (pyproject.toml)")

PROBE = """
from ftui.widgets.image_view import image_cells
from rich.console import Console
console = Console(width=40, color_system="256", force_terminal=True)
with console.capture() as capture:
    console.print(image_cells({path!r}, 10))
print("LINES", capture.get().count("\\n"), "BLOCKS", capture.get().count("\\u2580"))
"""


def test_drawing_an_image_under_a_terminal_sends_it_no_query(tmp_path):
    from tests.helpers.images import write_png

    image = write_png(tmp_path / "a.png", (40, 20))
    leader, follower = pty.openpty()  # stdout and stdin are a real terminal, as in tmux over SSH
    process = subprocess.Popen(
        [sys.executable, "-c", PROBE.format(path=str(image))],
        stdin=follower,
        stdout=follower,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    os.close(follower)
    output = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=30) == 0, process.stderr.read().decode()
    os.close(leader)
    text = output.decode()
    # Device-attribute, Kitty-graphics and cell-size queries: what textual-image's detection writes.
    assert "\x1b[c" not in text and "\x1b_G" not in text and "\x1b[16t" not in text
    assert "LINES 3 BLOCKS 30" in text  # 40x20 shrunk to 10x5 pixels: 3 rows of 10 half blocks


def test_a_missing_image_is_one_line_not_a_crash(tmp_path):
    from rich.console import Console

    from ftui.widgets.image_view import image_cells

    console = Console(width=80, color_system=None)
    with console.capture() as capture:
        console.print(image_cells(tmp_path / "gone.png", 10))
    assert "cannot be shown" in capture.get()
