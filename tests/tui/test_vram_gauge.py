"""The VRAM gauge in a real Textual app (Pilot), reading a stand-in NVML or this machine's real one."""

from dataclasses import dataclass

import pynvml
import pytest
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import Input

from ftui.core.fit import fit_on
from ftui.core.hardware import GIB
from ftui.core.plan import GpuChoice
from ftui.widgets.vram_gauge import VramGauge, sparkline
from tests.fakes.gauge_app import GaugeApp
from tests.fakes.nvml import FakeNvml, h200, t4
from tests.tui.conftest import wait_until


@dataclass(frozen=True)
class Card:  # the shape of ftui.core.catalog's Gpu
    name: str
    memory_gib: float
    bf16: bool


CARDS = [
    Card("NVIDIA T4", 16, False),
    Card("NVIDIA L4", 24, True),
    Card("NVIDIA A100 80GB", 80, True),
    Card("NVIDIA H100 80GB", 80, True),
    Card("NVIDIA H200", 141, True),
]


async def until(pilot, condition) -> None:
    """Let the app run until `condition()` holds (no fixed sleeps)."""
    await wait_until(pilot, condition, "the gauge's state")


def shown(gauge: VramGauge) -> str:
    return gauge.render().plain


def test_fit_and_sparkline_rules():
    assert fit_on(40, 80) == "fits"
    assert fit_on(75, 80) == "tight"
    assert fit_on(90, 80) == "too_big"
    assert fit_on(40, 80, used_gib=50) == "tight"  # the card could, but others hold the room now
    assert sparkline([0, 0.5, 1.0], 10) == "▁▅█"
    assert sparkline([0.1] * 50, 4) == "▁▁▁▁"


async def test_the_gauge_draws_each_gpu_and_marks_the_plan():
    gpu0, gpu1 = h200(0, memory_used=30 * GIB, utilization=55, temperature=47), t4(1, memory_used=2 * GIB)
    app = GaugeApp(nvml=FakeNvml([gpu0, gpu1]), estimate_gib=48.0, interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        gauge = app.query_one(VramGauge)
        await until(pilot, lambda: gauge.samples is not None)
        text = shown(gauge)
        assert "GPU 0 NVIDIA H200  util 55%  47°C" in text
        assert "30.0 / 140.4 GiB" in text
        assert "GPU 1 Tesla T4" in text and "2.0 / 15.0 GiB" in text
        assert not gauge.can_focus  # nothing to choose while there are GPUs to watch
        assert (gauge.fit_for(0), gauge.fit_for(1)) == ("fits", "too_big")
        assert "plan ┃ 48.0 GiB: fits" in text and "plan ┃ 48.0 GiB: too big" in text
        bar = text.splitlines()[1]
        assert bar.index("┃") == int(len(bar.split(" ")[0]) * 48 / 140.4)  # the marker where 48 GiB falls
        assert text.splitlines()[4].split(" ")[0].endswith("▶")  # past the end of the T4

        gauge.estimate_gib = 120.0  # the app changed the plan: the colour follows
        await pilot.pause()
        assert gauge.fit_for(0) == "tight" and "tight (110.4 GiB free now)" in shown(gauge)
        gauge.estimate_gib = None
        await pilot.pause()
        assert "no plan yet" in shown(gauge) and gauge.fit_for(0) is None


async def test_the_fit_colour_comes_from_the_component_classes():
    app = GaugeApp(nvml=FakeNvml([h200(memory_used=GIB)]), estimate_gib=200.0, interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        gauge = app.query_one(VramGauge)
        await until(pilot, lambda: gauge.samples is not None)
        marker = next(
            span
            for span in gauge.render().spans
            if span.style.color and "too big" in gauge.render().plain[span.start : span.end]
        )
        assert marker.style == gauge.get_component_rich_style("vram-gauge--too-big")
        assert marker.style != gauge.get_component_rich_style("vram-gauge--fits")


async def test_the_gauge_polls_once_a_tick_and_keeps_a_history():
    gpu = h200(memory_used=10 * GIB)
    nvml = FakeNvml([gpu])
    app = GaugeApp(nvml=nvml, interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        gauge = app.query_one(VramGauge)
        await until(pilot, lambda: len(gauge.history(0)) >= 3)
        gpu.memory_used = 70 * GIB
        await until(pilot, lambda: "70.0 / 140.4 GiB" in shown(gauge))
        history = gauge.history(0)
        assert history[0] == pytest.approx(10 / 140.4, abs=0.01) and history[-1] == pytest.approx(
            70 / 140.4, abs=0.01
        )
        assert "memory ▁" in shown(gauge)
        assert nvml.calls["nvmlInit"] == 1
        assert nvml.calls["nvmlDeviceGetName"] == 1  # the tick re-reads what moves, nothing else


async def test_a_driver_that_supports_little_still_draws():
    nvml = FakeNvml(
        [h200()],
        unsupported={"nvmlDeviceGetUtilizationRates", "nvmlDeviceGetTemperature", "nvmlDeviceGetPowerUsage"},
    )
    app = GaugeApp(nvml=nvml, estimate_gib=20.0, interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        gauge = app.query_one(VramGauge)
        await until(pilot, lambda: gauge.samples is not None)
        assert "util n/a  n/a" in shown(gauge) and "1.0 / 140.4 GiB" in shown(gauge)


async def test_without_a_gpu_the_gauge_offers_a_card_and_posts_the_choice():
    nvml = FakeNvml(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    app = GaugeApp(nvml=nvml, cards=CARDS, estimate_gib=20.0, interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        gauge = app.query_one(VramGauge)
        await until(pilot, lambda: gauge.samples is not None)
        text = shown(gauge)
        assert "No GPU to watch: No NVIDIA driver found" in text
        assert "▸ NVIDIA T4" in text and "too big" in text  # 20 GiB on a 16 GiB card
        assert gauge.can_focus and gauge.has_focus  # it takes the keys for the card list
        await pilot.press("down", "down", "up")
        assert "▸ NVIDIA L4" in shown(gauge)
        await pilot.press("enter")
        await until(pilot, lambda: app.chosen)
        assert [(m.name, m.vram_gib, m.bf16) for m in app.chosen] == [("NVIDIA L4", 24.0, True)]
        assert app.chosen[0].gpu_choice() == GpuChoice("NVIDIA L4", 24.0, bf16=True, detected=False)
        assert "Planning for NVIDIA L4 (24.0 GiB, bf16)" in shown(gauge)
        assert "plan ┃ 20.0 GiB: fits" in shown(gauge)
        calls = nvml.calls["nvmlInit"]
        await pilot.pause(0.2)
        assert nvml.calls["nvmlInit"] == calls == 1  # no GPU: the timer stops, no retry every tick
        await pilot.press("c")
        assert "Plan for a card you would rent" in shown(gauge)


class _HiddenPanelApp(App):
    """The gauge on a panel that is not shown yet, beside a form (as in a run view before its GPUs are known)."""

    AUTO_FOCUS = None  # nothing has the focus when the first reading comes, as after a screen switch

    def compose(self) -> ComposeResult:
        yield Input(id="form")
        panel = Vertical(id="panel")
        panel.display = False  # hidden from the start, before the gauge's first reading can arrive
        with panel:
            yield VramGauge(
                nvml=FakeNvml(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND), cards=CARDS, interval=0.05
            )


async def test_a_gauge_on_a_hidden_panel_leaves_the_keys_alone():
    app = _HiddenPanelApp()
    async with app.run_test(size=(80, 24)) as pilot:
        gauge = app.query_one(VramGauge)
        await until(pilot, lambda: gauge.samples is not None)
        await pilot.pause(0.1)
        assert gauge.can_focus and not gauge.has_focus


async def test_the_card_list_scrolls_past_what_fits():
    many = [Card(f"Card {n}", 8 * (n + 1), True) for n in range(12)]
    app = GaugeApp(nvml=FakeNvml([]), cards=many, interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        gauge = app.query_one(VramGauge)
        await until(pilot, lambda: gauge.samples is not None)
        assert "NVML sees no NVIDIA GPU" in shown(gauge)
        await pilot.press(*["down"] * 10)
        text = shown(gauge)
        assert "▸ Card 10" in text and "Card 0 " not in text and text.count("GiB  bf16") == 6


async def test_the_card_list_is_the_catalogs_by_default():
    from ftui.core.catalog import load_catalog

    catalog = load_catalog().gpus
    app = GaugeApp(nvml=FakeNvml([]), estimate_gib=30.0, interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        gauge = app.query_one(VramGauge)
        await until(pilot, lambda: gauge.samples is not None)
        assert [card.name for card in gauge.cards] == [card.name for card in catalog]
        first = catalog[0]
        assert f"▸ {first.name:<20} {first.memory_gib:>6.1f} GiB" in shown(gauge)
        await pilot.press(*["down"] * (len(catalog) - 1), "enter")
        await until(pilot, lambda: app.chosen)
        last = catalog[-1]
        assert [(m.name, m.vram_gib, m.bf16) for m in app.chosen] == [(last.name, last.memory_gib, last.bf16)]


async def test_the_real_nvml_without_a_driver():
    """No stand-in: pynvml on this machine. With a GPU present, tests/tui/test_vram_gauge_gpu.py runs instead."""
    from ftui.core.hardware import probe

    if probe(processes=False).gpus:
        pytest.skip("this machine has an NVIDIA GPU")
    app = GaugeApp(cards=CARDS, interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        gauge = app.query_one(VramGauge)
        await until(pilot, lambda: gauge.samples is not None)
        assert "No NVIDIA driver found" in shown(gauge) and "▸ NVIDIA T4" in shown(gauge)


def test_how_the_gauge_looks(snap_compare):
    """Two GPUs at fixed readings, a plan that fits one and is too big for the other."""
    nvml = FakeNvml(
        [h200(0, memory_used=30 * GIB, utilization=55, temperature=47), t4(1, memory_used=2 * GIB)]
    )
    app = GaugeApp(nvml=nvml, estimate_gib=48.0, interval=600)  # the first reading only: a fixed picture

    async def first_reading(pilot) -> None:
        await until(pilot, lambda: app.query_one(VramGauge).samples is not None)

    assert snap_compare(app, terminal_size=(80, 24), run_before=first_reading)


def test_how_the_card_list_looks(snap_compare):
    app = GaugeApp(
        nvml=FakeNvml(init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED), cards=CARDS, estimate_gib=20.0
    )

    async def first_reading(pilot) -> None:
        await until(pilot, lambda: app.query_one(VramGauge).samples is not None)

    assert snap_compare(app, terminal_size=(80, 24), press=["down"], run_before=first_reading)
