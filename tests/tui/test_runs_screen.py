"""Step 7: every run in the runs directory; selected runs overlaid and their samples side by side; Enter
re-attaches."""

from textual.widgets import DataTable

from ftui.widgets.loss_chart import LossChart
from ftui.widgets.run_view import RunView
from tests.tui.conftest import wait_for_text, wait_until, write_run

SAMPLES_A = [{"line": 3, "prompt": "What is 2+2?", "reference": "4", "output": "4, of course [b]bold?[/b]"}]
SAMPLES_B = [{"line": 3, "prompt": "What is 2+2?", "reference": "4", "output": "Four."}]


async def wait_for_rows(app, pilot, count: int) -> DataTable:  # type: ignore[no-untyped-def]
    table = app.screen.query_one("#runs-table", DataTable)
    await wait_until(pilot, lambda: table.row_count == count, f"{count} rows in the runs table")
    return table


async def test_runs_are_listed_newest_first_with_their_figures(make_app, tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, "20260105-100000-qwen3-8b", model="Qwen/Qwen3-8B", samples=SAMPLES_A)
    write_run(runs, "20260105-110000-qwen3-8b-base", model="Qwen/Qwen3-8B-Base", loss0=3.0, samples=SAMPLES_B)
    app = make_app(start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        table = await wait_for_rows(app, pilot, 2)
        first = [cell.plain for cell in table.get_row_at(0)]
        assert first[0].strip() == "20260105-110000-qwen3-8b-base"
        assert "completed" in first and "30/30" in first and "12:30" in first and "17.2G" in first


async def test_space_overlays_curves_and_puts_samples_side_by_side(make_app, tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, "20260105-100000-qwen3-8b", model="Qwen/Qwen3-8B", samples=SAMPLES_A)
    write_run(runs, "20260105-110000-qwen3-8b-base", model="Qwen/Qwen3-8B-Base", loss0=3.0, samples=SAMPLES_B)
    app = make_app(start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_rows(app, pilot, 2)
        await pilot.press("space", "down", "space")
        chart = app.screen.query_one(LossChart)
        await wait_until(pilot, lambda: len(chart.series) == 2, "two curves on the chart")
        samples = await wait_for_text(app, pilot, "#samples", "Four.")
        assert "4, of course [b]bold?[/b]" in samples  # a model's output is shown as it is, never as markup
        assert "Qwen/Qwen3-8B-Base" in samples


async def test_enter_reattaches_to_the_run(make_app, tmp_path):
    write_run(tmp_path / "runs", "20260105-100000-qwen3-8b")
    app = make_app(start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(app, pilot, 1)
        await pilot.press("enter")
        assert app.current_step == "train"
        view = app.screen.query_one(RunView)
        assert view.run is not None and view.run.run_id == "20260105-100000-qwen3-8b"
        await wait_for_text(app, pilot, "#run-progress", "step 30/30")


async def test_no_runs_yet_says_where_it_looked(make_app, tmp_path):
    app = make_app(start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        line = await wait_for_text(app, pilot, "#runs-line", "0 runs")
        assert str(tmp_path / "runs") in line.replace("\n", "")


async def test_vision_samples_show_the_image_above_the_question_beside_the_answers(make_app, tmp_path):
    import pytest

    pytest.importorskip("textual_image", reason="textual-image draws the samples' images (pyproject.toml)")
    from tests.helpers.images import write_png

    image = str(write_png(tmp_path / "red.png", (64, 64), (220, 30, 30)))
    runs = tmp_path / "runs"
    sample = {"line": 7, "prompt": "<image>what colour is this", "reference": "red", "images": [image]}
    write_run(runs, "20260105-100000-qwen2.5-vl", model="Qwen/Qwen2.5-VL-7B-Instruct", samples=[{**sample, "output": "red"}])  # fmt: skip
    write_run(runs, "20260105-110000-gemma-3", model="google/gemma-3-4b-it", samples=[{**sample, "output": "crimson"}])  # fmt: skip
    app = make_app(start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(app, pilot, 2)
        await pilot.press("space", "down", "space")
        shown = await wait_for_text(app, pilot, "#samples", "crimson")
        assert "<image>what colour is this" in shown and "red" in shown
        assert "▀" in shown  # the image, drawn as half blocks above the question


async def test_a_run_on_several_gpus_under_slurm_shows_how_it_is_spread_and_slurms_state(make_app, tmp_path):
    import json

    path = write_run(tmp_path / "runs", "20260105-100000-qwen3-32b", model="Qwen/Qwen3-32B")
    status = json.loads((path / "status.json").read_text())
    status.update(world_size=4, sharding="fsdp", slurm_job_id="4242", slurm_state="COMPLETED")
    (path / "status.json").write_text(json.dumps(status))
    app = make_app(start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await wait_for_rows(app, pilot, 1)
        state = table.get_row_at(0)[1].plain
        # Slurm is not reachable here: its state is the one the run recorded last.
        assert state == "completed 4×fsdp slurm COMPLETED"
