"""Runs never go on without a word: which are live at start-up, a notice and the bell when one ends, why
stop/kill/resume do nothing on a finished run, and what quitting leaves running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from ftui.app import still_training
from ftui.core.runs import RunDirectory
from ftui.widgets.run_view import RunView
from tests.tui.conftest import wait_for_text, wait_until, write_run


def sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)


def heard(app):  # type: ignore[no-untyped-def]
    """What the app says (notices) and how often it rings, recorded as it happens."""
    said: list[tuple[str, str]] = []
    rings: list[int] = []
    notify = app.notify

    def record(message, *args, **kwargs):  # type: ignore[no-untyped-def]
        said.append((str(message), kwargs.get("severity", "information")))
        return notify(message, *args, **kwargs)

    app.notify = record
    app.bell = lambda: rings.append(1)
    return said, rings


async def test_start_up_names_the_live_runs_and_their_end_rings(make_app, tmp_path):
    process = sleeper()
    try:
        path = write_run(tmp_path / "runs", "20260105-100000-live", state="running", pid=process.pid)
        app = make_app(start="use_case")
        app.watch_interval = 0.2
        said, rings = heard(app)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: said, "a notice")
            assert "1 run is still training: 20260105-100000-live (step 15/30)" in said[0][0]
            status = json.loads((path / "status.json").read_text())
            status.update(state="completed", step=30, output=str(path / "adapter"))
            (path / "status.json").write_text(json.dumps(status))  # as the trainer writes it at its end
            await wait_until(pilot, lambda: len(said) == 2, "the run's end announced")
            assert said[1] == (
                f"Run 20260105-100000-live completed at step 30/30, loss 1.8831; saved in {path / 'adapter'}.",
                "information",
            )
            assert rings == [1]
    finally:
        process.kill()
        process.wait()


async def test_a_run_that_dies_is_announced_as_failed(make_app, tmp_path):
    process = sleeper()
    path = write_run(tmp_path / "runs", "20260105-100000-dies", state="running", pid=process.pid)
    app = make_app(start="use_case")
    app.watch_interval = 0.2
    said, rings = heard(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: said, "the start-up notice")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        await wait_until(pilot, lambda: len(said) == 2, "the run's end announced")
        assert said[1][1] == "error" and "Run 20260105-100000-dies failed" in said[1][0]
        assert "ended without saving its state" in said[1][0] and rings == [1]
    assert RunDirectory(path).read_status().state == "failed"


async def test_stop_kill_and_resume_on_a_finished_run_say_why_they_do_nothing(make_app, tmp_path):
    path = write_run(tmp_path / "runs", "20260105-100000-done")
    app = make_app(start="train")
    said, _ = heard(app)
    async with app.run_test(size=(80, 24)) as pilot:
        app.attach_run(RunDirectory(path))
        await wait_for_text(app, pilot, "#run-head", "completed")
        app.screen.set_focus(None)
        await pilot.press("x")
        await wait_until(pilot, lambda: said, "a reason")
        assert said[-1] == (
            "Run 20260105-100000-done is not running (it completed; e starts a new run from its settings), "
            "so there is nothing to stop.",
            "warning",
        )
        await pilot.press("r")
        await wait_until(pilot, lambda: len(said) == 2, "another reason")
        assert "completed, so there is nothing to resume" in said[-1][0]


async def test_e_on_a_reattached_run_fills_the_form_with_its_settings(make_app, tmp_path):
    path = write_run(tmp_path / "runs", "20260105-100000-done")  # lora, max_steps 30, Qwen/Qwen3-8B
    app = make_app(start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        app.attach_run(RunDirectory(path))
        await wait_for_text(app, pilot, "#run-head", "completed")
        app.screen.set_focus(None)
        await pilot.press("e")
        await wait_until(
            pilot, lambda: app.screen.query_one("#field-max_steps").value == "30", "its max steps"
        )
        assert app.plan.model == "Qwen/Qwen3-8B" and app.plan.settings.method == "lora"
        assert app.screen.query_one(RunView).display is False or app.screen.query_one("#train-form").display
        await wait_for_text(app, pilot, "#form-status", "s starts a new run")


def test_quitting_with_a_live_run_says_it_goes_on_and_how_to_come_back(tmp_path):
    process = sleeper()
    try:
        runs = tmp_path / "runs"
        write_run(runs, "20260105-100000-live", state="running", pid=process.pid)
        write_run(runs, "20260105-090000-done")
        words = still_training(runs)
        assert words.startswith("1 run is still training: 20260105-100000-live (step 15/30).")
        assert "ftui runs 20260105-100000-live --follow" in words and "runs step (7)" in words
        assert max(len(line) for line in words.splitlines()) <= 80
    finally:
        process.kill()
        process.wait()
    assert still_training(runs) == ""
