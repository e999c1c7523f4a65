"""The whole flow in a real terminal: ftui in tmux at 80x24, driven by keys only.

Use case, hardware, license, data (the sample dataset shipped in assets/), the model (a tiny Llama this
test builds, typed into the local model field), the training form, the preflight sheet, start: a real CPU
training process. Once the loss shows, ftui quits while the run goes on and says so; a new ftui (given
the runs directory by --runs-dir) says the run is live, re-attaches to it, follows it, and stops it with
x, announcing its end. The screen is read with capture-pane, polled until the expected text is there.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import psutil
import pytest

from ftui.core.runs import FINAL_STATES, list_runs
from tests.e2e.tmux_terminal import TmuxTerminal
from tests.helpers.tiny_model import tiny_llama_for_session

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE = "assets/samples/alpaca_sample.jsonl"
STEPS = 400  # long enough to outlive the restart of ftui on a fast machine
LOSS = re.compile(r"step (\d+)/(\d+) .* loss \d+\.\d+")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return tiny_llama_for_session(tmp_path_factory)


def start_ftui(term: TmuxTerminal, runs_dir: Path) -> None:
    term.start(
        f"{sys.executable} -m ftui",
        env={"FTUI_RUNS_DIR": str(runs_dir), "HF_HUB_OFFLINE": "1"},
        cwd=str(ROOT),
    )
    term.wait_for("What will the fine-tuned model do?")


def leave_field(term: TmuxTerminal) -> None:
    """Escape out of a text field, then wait until the app has (an Esc and a key sent at once would
    arrive as Alt+key)."""
    term.send("Escape")
    term.wait_until_gone("Leave field")


def row(screen: str, label: str) -> str:
    return next((line for line in screen.splitlines() if label in line), "")


def set_field(term: TmuxTerminal, label: str, value: str) -> None:
    """Tab to the next field and type `value` over it (a field selects its text when focused).

    Keys sent in one burst reach the widget that had the focus when they arrived: wait until the
    field's row is drawn focused before typing into it."""
    before = row(term.screen(styled=True), label)
    term.send("Tab")
    term.wait_for(lambda screen: row(screen, label) != before, styled=True)
    if value:
        term.type(value)
        term.wait_for(lambda screen: any(label in line and value in line for line in screen.splitlines()))


def test_from_use_case_to_a_run_that_outlives_ftui(tiny_model, tmp_path):
    runs_dir = tmp_path / "runs"
    with TmuxTerminal(80, 24) as term:
        start_ftui(term, runs_dir)
        assert (
            term.pane("mouse_any_flag") == "0" and term.pane("mouse_button_flag") == "0"
        )  # no mouse capture

        term.send("n")
        term.wait_for("No GPU to watch")  # this machine has none: the hardware step offers cards
        term.send("n")
        term.wait_for("Which licenses may the model have?")
        term.send("n")
        term.wait_for("Which data will you train on?")
        term.type(SAMPLE)
        term.send("Enter")
        term.wait_for("Read every row")
        term.wait_for("Start from an instruct model")  # the report has the focus now: n goes on

        term.send("n")
        term.wait_for("candidates for")
        term.send("l")  # a local model folder, typed into its own field
        term.wait_for("Leave field")
        term.type(str(tiny_model))
        term.send("Enter")
        term.wait_for("Chosen: ")

        term.send("n")
        term.wait_for("Method")
        term.send("Right")
        term.wait_for("LoRA (16-bit)")
        for label, value in (
            ("rank", ""),
            ("alpha", ""),
            ("Learn rate", "5e-3"),
            ("Epochs", ""),
            ("Max steps", str(STEPS)),
            ("Micro-batch", "4"),
            ("Grad accum", "1"),
            ("Seq length", "128"),
            ("Eval split", "0.1"),
            ("Optimizer", "adamw_torch"),
        ):
            set_field(term, label, value)
        leave_field(term)
        term.send("s")
        term.wait_for("Ready to start")  # the preflight sheet: a tiny model on this CPU, clean data
        term.send("Enter")
        term.wait_for(lambda screen: "starting" in screen or "running" in screen, timeout=120)
        screen = term.wait_for(lambda screen: LOSS.search(screen) is not None, timeout=600)
        assert "┤" in screen  # the loss chart has an axis with values

        (run,) = list_runs(runs_dir)
        status = run.status()
        assert status.state == "running"
        trainer = psutil.Process(status.pid)

        term.send("q")  # quit ftui while the run goes on
        term.wait_for(lambda _: term.dead(), timeout=120)
        assert trainer.is_running() and run.status().state == "running"
        goodbye = term.screen(history=24)  # leaving the full-screen app may scroll its first line off
        assert "1 run is still training" in goodbye and "It goes on without ftui" in goodbye
        assert f"ftui runs {run.run_id} --follow" in goodbye

        try:
            # The runs directory by flag this time; the new ftui says the run is live, and follows it.
            term.start(
                f"{sys.executable} -m ftui --runs-dir {runs_dir}", env={"HF_HUB_OFFLINE": "1"}, cwd=str(ROOT)
            )
            term.wait_for("1 run is still training")
            term.send("7")
            term.wait_for(run.run_id)
            term.wait_for("running")
            term.send("Enter")  # re-attach
            screen = term.wait_for(lambda screen: run.run_id in screen and LOSS.search(screen) is not None)
            first_step = int(LOSS.search(screen).group(1))
            term.wait_for(
                lambda screen: (m := LOSS.search(screen)) is not None and int(m.group(1)) > first_step,
                timeout=600,
            )
            term.send("x")  # stop it gracefully: a checkpoint and the adapter, then the end is announced
            screen = term.wait_for("Run ended", timeout=1800)  # a guard: a loaded machine trains slowly
            assert "stopped at step" in screen
            assert run.status().state == "stopped" and run.adapter_dir.is_dir()
        finally:
            if run.status().state not in FINAL_STATES:
                from ftui.core.runs import kill

                kill(run)
