"""How every screen looks at 80x24 (the SSH/tmux floor) and at 120x40, on a fixed machine and plan.

Nothing here depends on the host or the clock: the stand-in NVML and fixed CPU/RAM/disks (conftest), an
empty HF cache, relative paths, finished runs with fixed times. Update on purpose with
`pytest tests/tui/test_snapshots.py --snapshot-update` and look at the SVGs before committing them.
"""

from __future__ import annotations

import pytest

from ftui.core.plan import DatasetSummary, GpuChoice, Plan
from tests.tui.conftest import ROOT, text_of, wait_until, workers_done, write_run

SIZES = [(80, 24), (120, 40)]
SAMPLE_RELATIVE = "assets/samples/alpaca_sample.jsonl"


@pytest.fixture(autouse=True)
def steady(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    monkeypatch.chdir(ROOT)


def full_plan() -> Plan:
    plan = Plan(
        use_case="general",
        gpu=GpuChoice("NVIDIA H200", 140.4, True, detected=True),
        dataset=DatasetSummary(
            SAMPLE_RELATIVE, rows=80, format="alpaca", total_tokens=2752, p95_tokens=56, max_tokens=70
        ),
        model="Qwen/Qwen3-8B",
        repo="unsloth/Qwen3-8B-unsloth-bnb-4bit",
    )
    plan.settings.seq = 256
    return plan


def drawn(app) -> bool:  # type: ignore[no-untyped-def]
    """Nothing the screen has been given is still waiting for a timer to draw it."""
    from ftui.widgets.log_view import LogView
    from ftui.widgets.loss_chart import LossChart

    return not any(log.flush_pending for log in app.screen.query(LogView)) and not any(
        chart.redraw_pending for chart in app.screen.query(LossChart)
    )


async def settle(pilot, ready=lambda app: True) -> None:  # type: ignore[no-untyped-def]
    """Wait for the state the picture shows: `ready(app)`, every worker (advice, inspection, estimates,
    polls) finished, and what they delivered drawn; twice, for work that the first results start."""
    app = pilot.app
    for _ in range(2):
        await wait_until(pilot, lambda: ready(app), "the screen's content")
        await workers_done(app)
        await wait_until(pilot, lambda: drawn(app), "the timers' redraws")
        await pilot.pause()


async def gauge_read(pilot) -> None:  # type: ignore[no-untyped-def]
    from ftui.widgets.vram_gauge import VramGauge

    await settle(pilot, lambda app: app.screen.query_one(VramGauge).samples is not None)


def showing(selector: str, needle: str):  # type: ignore[no-untyped-def]
    return lambda app: needle in text_of(app.screen.query_one(selector))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_use_case(snap_compare, make_app, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_hardware(snap_compare, make_app, size):
    assert snap_compare(make_app(full_plan(), start="hardware"), terminal_size=size, run_before=gauge_read)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_hardware_without_a_gpu(snap_compare, make_app, size):
    assert snap_compare(make_app(gpus=0, start="hardware"), terminal_size=size, run_before=gauge_read)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_license(snap_compare, make_app, size):
    plan = Plan(needs_commercial_use=True, gpu=GpuChoice("NVIDIA H200", 140.4, True, detected=True))
    listed = lambda app: bool(text_of(app.screen.query_one("#licenses")).strip())  # noqa: E731

    async def licenses_listed(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot, listed)

    assert snap_compare(make_app(plan, start="license"), terminal_size=size, run_before=licenses_listed)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_data(snap_compare, make_app, size):
    plan = full_plan()

    async def inspected(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot, showing("#data-status", "Read every row"))

    assert snap_compare(make_app(plan, start="data"), terminal_size=size, run_before=inspected)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_models(snap_compare, make_app, size):
    plan = full_plan()
    plan.gpu = GpuChoice("RTX 4090", 24.0, True)

    async def listed(pilot) -> None:  # type: ignore[no-untyped-def]
        from ftui.widgets.model_table import ModelTable

        await settle(pilot, lambda app: app.screen.query_one(ModelTable).row_count > 0)

    assert snap_compare(make_app(plan, gpus=0, start="models"), terminal_size=size, run_before=listed)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_train_form(snap_compare, make_app, size):
    async def estimated(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot, showing("#estimate", "GiB at its peak"))

    assert snap_compare(make_app(full_plan(), start="train"), terminal_size=size, run_before=estimated)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_view(snap_compare, make_app, size, tmp_path):
    from ftui.core.runs import RunDirectory

    log_lines = [
        "[ftui] starting",
        "{'loss': 1.23, 'grad_norm': 0.5}",
        "[bold]a log line with markup[/bold]",
        "\x1b[31mcoloured\x1b[0m and a bell\x07",
        " 50%|#####     | 15/30 [00:30<00:30]",
    ]
    path = write_run(tmp_path / "runs", "20260105-100000-qwen3-8b", log_lines=log_lines)
    app = make_app(full_plan(), start="train", runs_dir=tmp_path / "runs")

    async def attached(pilot) -> None:  # type: ignore[no-untyped-def]
        from ftui.widgets.log_view import LogView

        app.attach_run(RunDirectory(path))
        await settle(
            pilot,
            lambda app: (
                "step 30/30" in text_of(app.screen.query_one("#run-progress"))
                and app.screen.query_one(LogView).line_count == len(log_lines)
            ),
        )

    assert snap_compare(app, terminal_size=size, run_before=attached)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_runs(snap_compare, make_app, size, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the screen names the runs directory: keep it relative
    samples_a = [
        {"line": 4, "prompt": "### Instruction:\nWhat is 7 times 8?\n\n### Response:\n", "output": "56"},
        {"line": 9, "prompt": "### Instruction:\nName a prime.\n\n### Response:\n", "output": "7 is."},
    ]
    samples_b = [
        {"line": 4, "prompt": samples_a[0]["prompt"], "output": "7 times 8 is 56."},
        {"line": 9, "prompt": samples_a[1]["prompt"], "output": "Eleven"},
    ]
    write_run(tmp_path / "runs", "20260105-100000-qwen3-8b", model="Qwen/Qwen3-8B", samples=samples_a)
    write_run(
        tmp_path / "runs",
        "20260105-110000-qwen3-8b-base",
        model="Qwen/Qwen3-8B-Base",
        loss0=3.2,
        samples=samples_b,
    )
    app = make_app(start="runs", runs_dir=tmp_path.joinpath("runs").relative_to(tmp_path))

    async def select_both(pilot) -> None:  # type: ignore[no-untyped-def]
        from textual.widgets import DataTable

        from ftui.widgets.loss_chart import LossChart

        await settle(pilot, lambda app: app.screen.query_one("#runs-table", DataTable).row_count == 2)
        await pilot.press("space", "down", "space")
        await settle(
            pilot,
            lambda app: (
                len(app.screen.query_one(LossChart).series) == 2
                and "Eleven" in text_of(app.screen.query_one("#samples"))
            ),
        )

    assert snap_compare(app, terminal_size=size, run_before=select_both)
