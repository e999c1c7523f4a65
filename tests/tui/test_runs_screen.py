"""Step 7: every run in the runs directory; selected runs overlaid and their samples side by side; Enter
re-attaches."""

from textual.widgets import DataTable

from ftui.widgets.loss_chart import LossChart
from ftui.widgets.run_view import RunView
from tests.tui.conftest import SAMPLE, text_of, wait_for_text, wait_until, write_run

SAMPLES_A = [{"line": 3, "prompt": "What is 2+2?", "reference": "4", "output": "4, of course [b]bold?[/b]"}]
SAMPLES_B = [
    {"line": 3, "prompt": "What is 2+2?", "reference": "4", "output": "Four."},
    {"line": 9, "prompt": "Name a colour.", "reference": "Blue.", "output": ""},
]


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
        header = samples.splitlines()[1]
        assert "Expected" in header and "qwen3-8b-base 11:00" in header and "qwen3-8b 10:00" in header
        assert "(empty)" in samples and "(no sample)" in samples and "Blue." in samples


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


async def test_at_80_columns_the_comparison_fits(make_app, tmp_path):
    runs = tmp_path / "runs"
    for hour in (10, 11, 12):
        write_run(runs, f"20260105-{hour}0000-qwen3-8b", samples=SAMPLES_B)
    app = make_app(start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await wait_for_rows(app, pilot, 3)
        await pilot.press("space", "down", "space", "down", "space")
        chart = app.screen.query_one(LossChart)
        await wait_until(pilot, lambda: len(chart.series) == 3, "three curves")
        legend = chart.legend().plain
        assert len(legend) <= chart.size.width - 2 and legend.count("⣿") == 3
        await wait_for_text(app, pilot, "#samples", "Four.")
        widget = app.screen.query_one("#samples")
        drawn = text_of(widget, width=widget.content_size.width)  # as wide as it is on screen
        header_lines = [line for line in drawn.splitlines() if line.startswith("┃")]
        cells = zip(*(line.strip("┃").split("┃") for line in header_lines), strict=True)
        headers = [" ".join(part.strip() for part in column if part.strip()) for column in cells]
        # each run's whole name heads its column (wrapped in a narrow one, never cut)
        assert headers == ["Prompt", "Expected", "qwen3-8b 10:00", "qwen3-8b 11:00", "qwen3-8b 12:00"]
        # the table keeps its columns as wide as their contents while the samples pane scrolls
        app.screen.query_one("#compare").scroll_end(animate=False)
        await pilot.pause()
        assert [table.columns[key].get_render_width(table) for key in table.columns][:2] == [
            len("  20260105-120000-qwen3-8b") + 2,
            len("completed") + 2,
        ]


async def test_r_renames_a_run_and_its_name_heads_the_comparison(make_app, tmp_path):
    write_run(tmp_path / "runs", "20260105-100000-qwen3-8b", samples=SAMPLES_A)
    app = make_app(start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(app, pilot, 1)
        await pilot.press("r")
        await wait_until(pilot, lambda: app.screen.query("#answer"), "the name field")
        await pilot.press(*"instruct, lr 2e-4", "enter")
        table = app.screen.query_one("#runs-table", DataTable)
        await wait_until(pilot, lambda: "instruct, lr 2e-4" in table.get_row_at(0)[0].plain, "the new name")
        await pilot.press("space")
        samples = await wait_for_text(app, pilot, "#samples", "instruct, lr 2e-4")
        assert "of course" in samples


async def test_d_deletes_a_run_after_asking(make_app, tmp_path):
    path = write_run(tmp_path / "runs", "20260105-100000-qwen3-8b")
    app = make_app(start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(app, pilot, 1)
        await pilot.press("d")
        await wait_for_text(app, pilot, "#question", "Delete run qwen3-8b 10:00")
        await pilot.press("n")  # no: kept
        await wait_until(pilot, lambda: app.current_step == "runs", "back on the runs step")
        assert path.is_dir()
        await pilot.press("d")
        await wait_until(pilot, lambda: app.screen.query("#question"), "the question again")
        await pilot.press("y")
        await wait_for_rows(app, pilot, 0)
        assert not path.exists()


async def test_e_starts_a_new_run_from_a_runs_settings(make_app, tmp_path):
    from ftui.core.plan import TrainingSettings
    from ftui.core.run_config import RunConfig

    path = write_run(tmp_path / "runs", "20260105-100000-qwen3-8b")
    settings = TrainingSettings(method="lora", rank=32, alpha=64, max_steps=30, warmup_steps=7)
    RunConfig(model="Qwen/Qwen3-8B", data=str(SAMPLE), settings=settings, template="chatml").write(
        path / "config.toml"
    )
    app = make_app(start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(app, pilot, 1)
        await pilot.press("e")
        await wait_until(pilot, lambda: app.current_step == "train", "the train step")
        await wait_until(pilot, lambda: app.screen.query_one("#field-rank").value == "32", "the run's rank")
        assert app.plan.model == "Qwen/Qwen3-8B" and app.plan.settings.warmup_steps == 7
        assert app.screen.query_one("#field-template").value == "chatml"
        assert app.plan.dataset is not None and app.plan.dataset.source == str(SAMPLE)
