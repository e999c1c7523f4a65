"""Keys in a real terminal: tmux turns Esc then a key, sent together, into Alt+key (its escape-time)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.e2e.tmux_terminal import TmuxTerminal

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent


def test_escape_and_a_step_key_sent_together_go_to_the_step_and_type_nothing(tmp_path):
    with TmuxTerminal(80, 24) as term:
        term.start(f"{sys.executable} -m ftui", env={"FTUI_RUNS_DIR": str(tmp_path / "runs")}, cwd=str(ROOT))
        term.wait_for("What will the fine-tuned model do?")
        term.send("4")
        term.wait_for("Which data will you train on?")
        term.type("abc")
        term.wait_for(lambda screen: "abc" in screen)
        term.send("Escape", "2")  # one send-keys: the terminal gets ESC 2 at once, i.e. Alt+2
        term.wait_for("No GPU to watch")
        term.send("4")
        screen = term.wait_for("Which data will you train on?")
        line = next(line for line in screen.splitlines() if "abc" in line)
        assert "abc2" not in line and "™" not in line
