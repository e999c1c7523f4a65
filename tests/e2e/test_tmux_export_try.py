"""After training, in a real terminal at 80x24, keys only: the runs step exports the run (the export sheet,
the real exporter process, its verification table), puts the base model beside it (v, the real eval
process), and the try step streams the fine-tuned model's answer beside the base model's from the real
chat process. The screen is read with capture-pane, polled until the expected text is there."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.e2e.tmux_terminal import TmuxTerminal
from tests.helpers.finished_run import copy_run
from tests.tui.conftest import live_chat_processes

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
GUARD_S = 900  # a hang guard for the real processes on a loaded machine, never a pace


def test_export_evaluate_and_try_a_finished_run_with_keys_only(finished_run, tmp_path):
    runs = tmp_path / "runs"
    run = copy_run(finished_run, runs)
    with TmuxTerminal(80, 24) as term:
        term.start(
            f"{sys.executable} -m ftui",
            env={"FTUI_RUNS_DIR": str(runs), "HF_HUB_OFFLINE": "1"},
            cwd=str(ROOT),
        )
        term.wait_for("What will the fine-tuned model do?")
        term.send("7")
        term.wait_for(run.name)
        screen = term.wait_for("x Export")
        assert "t Try" in screen and "v Vs base" in screen

        # Export: the sheet sizes it first; Enter starts the exporter; its record is followed live.
        term.send("x")
        screen = term.wait_for("Enter starts the export")
        assert "on disk" in screen and "GiB in" in screen
        term.send("Enter")
        screen = term.wait_for("Verification:", timeout=GUARD_S)
        assert "completed" in screen and (run / "exports" / "merged" / "model.safetensors").is_file()
        term.send("Escape")
        term.wait_until_gone("Verification:")

        # The base model beside the run: its held-out loss and answers in the generation table.
        term.send("v")
        screen = term.wait_for("held-out loss", timeout=GUARD_S)
        assert "base, " in screen and "fine-tuned" in screen and (run / "base_eval.json").is_file()

        # Try: the prompt field has the keys; the answers stream into the two panes.
        term.send("t")
        term.wait_for("template chatml")
        term.type("what is 2 plus 3")
        term.wait_for("what is 2 plus 3")
        term.send("Enter")
        screen = term.wait_for(lambda s: s.count("tokens in") >= 2, timeout=GUARD_S)
        assert "› what is 2 plus 3" in screen  # (a long answer scrolls its prompt out of sight)
        assert len(live_chat_processes(run)) == 1

        term.send("Escape")
        term.wait_until_gone("Leave field")
        term.send("q")
        term.wait_for(lambda _: term.dead(), timeout=120)
    for process in live_chat_processes(run):
        process.wait(timeout=30)  # quitting ftui ends its model process
    assert not live_chat_processes(run)
