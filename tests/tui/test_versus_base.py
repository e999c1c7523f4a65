"""`v` on the runs step: the base model beside a run, computed by the real eval process on the tiny model
trained in this session (its held-out loss and its answers to the run's held-out prompts), kept in the
run folder and shown in the generation table."""

from __future__ import annotations

import pytest

from ftui.core.base_eval import read_base_eval
from tests.helpers.finished_run import copy_run
from tests.tui.conftest import PROCESS_GUARD_S, text_of, wait_for_text, wait_until, write_run


def record_notifications(app) -> list[str]:  # type: ignore[no-untyped-def]
    """Every notification the app shows from now on, as it is shown (App.notify still runs)."""
    said: list[str] = []
    notify = app.notify

    def recording(message, *args, **kwargs):  # type: ignore[no-untyped-def]
        said.append(str(message))
        return notify(message, *args, **kwargs)

    app.notify = recording
    return said


async def listed(app, pilot, rows: int = 1) -> None:  # type: ignore[no-untyped-def]
    table = app.screen.query_one("#runs-table")
    await wait_until(pilot, lambda: table.row_count == rows, "the runs listed")


@pytest.mark.slow
async def test_v_puts_the_base_models_answers_and_loss_beside_the_run(make_app, finished_run, tmp_path):
    runs = tmp_path / "runs"
    run = copy_run(finished_run, runs)
    app = make_app(gpus=0, start="runs")
    said = record_notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await listed(app, pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: "in its own process" in " ".join(said), "the evaluation started")
        shown = await wait_for_text(app, pilot, "#samples", "held-out loss", timeout=PROCESS_GUARD_S)
        evaluation = read_base_eval(run)
        assert evaluation is not None and evaluation.rows == 12
        assert f"{evaluation.base_loss:.4f} base, {evaluation.run_loss:.4f} fine-tuned (better by" in shown
        assert "base: " in shown  # the base model's column in the generation table
        first = evaluation.base_samples[0].output
        assert " ".join(first.split())[:12] in " ".join(shown.split())
        assert "beside its base model: held-out loss" in said[-1]
    log_size = (run / "eval.log").stat().st_size

    # Kept in the run folder: a later ftui shows it at once, without loading anything.
    again = make_app(gpus=0, start="runs")
    async with again.run_test(size=(120, 40)) as pilot:
        await listed(again, pilot)
        await pilot.press("space")
        shown = await wait_for_text(again, pilot, "#samples", "held-out loss")
        assert "base: " in shown
    assert (run / "eval.log").stat().st_size == log_size


async def test_v_on_a_run_that_is_not_finished_says_why(make_app, tmp_path):
    write_run(tmp_path / "runs", "20260105-100000-failed", state="failed")
    app = make_app(start="runs")
    said = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await listed(app, pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: said, "the refusal")
        assert "Run 20260105-100000-failed ended failed, so there is no finished model to evaluate" in said[0]
        assert not (tmp_path / "runs" / "20260105-100000-failed" / "eval.log").exists()


async def test_the_base_columns_come_from_the_kept_evaluation(make_app, tmp_path):
    """Two runs of the same base: one column for the base model, and each run's held-out loss above."""
    from ftui.core.base_eval import BaseAnswer, BaseEval, write_base_eval

    runs = tmp_path / "runs"
    samples = [{"line": 3, "prompt": "What is 2+2?", "reference": "4", "output": "Four."}]
    for run_id, loss in (("20260105-100000-a", 1.2), ("20260105-110000-b", 1.5)):
        path = write_run(runs, run_id, model="Qwen/Qwen3-8B", samples=samples)
        answer = BaseAnswer(line=3, prompt="What is 2+2?", output="\x1b[1mfive[/b]", new_tokens=3)
        write_base_eval(
            path, BaseEval(run_id=run_id, rows=8, base_loss=2.0, run_loss=loss, base_samples=[answer])
        )
    app = make_app(start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await listed(app, pilot, rows=2)
        await pilot.press("space", "down", "space")
        shown = await wait_for_text(app, pilot, "#samples", "20260105-100000-a: held-out loss")
        assert "2.0000 base, 1.2000 fine-tuned (better by 0.8000) on 8 rows" in shown
        assert "20260105-110000-b: held-out loss 2.0000 base, 1.5000 fine-tuned" in shown
        assert shown.count("base: Qwen/Qwen3-8B") == 1  # one column for the shared base
        assert "five[/b]" in shown and "\x1b" not in text_of(app.screen.query_one("#samples"))
