"""The loss chart: drawn from the points, downsampled to its width, and redrawn at a bounded rate."""

from rich.style import Style
from textual.app import App, ComposeResult

from ftui.widgets.loss_chart import MAX_POINTS, LossChart, Series, downsample, draw
from tests.tui.conftest import wait_until


def test_downsample_averages_each_column():
    steps = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    values = [float(v) for v in steps]
    assert downsample(steps, values, 0, 9, 10) == values
    assert downsample([0, 1, 9], [1.0, 3.0, 5.0], 0, 9, 2) == [2.0, 5.0]
    assert downsample([0, 9], [1.0, 2.0], 0, 9, 3) == [1.0, None, 2.0]


def test_a_falling_curve_starts_high_and_ends_low():
    series = Series("train")
    for step in range(1, 201):
        series.add(step, 3.0 - step / 100)
    text = draw([series], width=40, height=10, styles=[Style()], axis=Style())
    lines = text.plain.split("\n")
    assert len(lines) == 10
    assert lines[0].startswith("  2.99┤")
    assert lines[8].startswith("  1.00┤")
    plot = [line[7:] for line in lines[:9]]
    assert all(len(row) == 33 for row in plot)
    assert plot[0][0] != " " and plot[0][-1] == " "  # the first points top left
    assert plot[8][-1] != " " and plot[8][0] == " "  # the last ones bottom right
    assert lines[9].endswith("step 200")


def test_nan_is_skipped_and_a_long_run_stays_bounded():
    series = Series("train")
    series.add(0, float("nan"))
    assert series.steps == []
    for step in range(100_000):
        series.add(step, 1.0)
    assert len(series.steps) <= MAX_POINTS
    assert series.steps[-1] > 99_000  # halving keeps the whole range, the recent end included


def test_an_empty_chart_says_so():
    assert draw([Series("train")], 40, 10, [Style()], Style()).plain == "no loss logged yet"


class ChartApp(App):
    def compose(self) -> ComposeResult:
        yield LossChart(max_redraws_per_second=2)


async def test_many_points_cost_one_redraw_not_one_each():
    app = ChartApp()
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.query_one(LossChart)
        await pilot.pause()
        before = chart.redraws
        for step in range(5000):
            chart.add_point("train", step, 2.0 - step / 5000)
        await wait_until(pilot, lambda: not chart.redraw_pending and chart.redraws > before, "the redraw")
        await pilot.pause()
        assert chart.redraws - before <= 2  # 5000 points, drawn together (the rate is in BENCHMARKS.md)
