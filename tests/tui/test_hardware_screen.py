"""Step 2: the gauge for the GPUs found, the machine's RAM and disks, or a card to plan for without a GPU."""

from ftui.core.plan import Plan
from ftui.widgets.vram_gauge import VramGauge
from tests.tui.conftest import text_of, wait_until


def screen_text(app) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(text_of(w) for w in app.screen.query("Static"))


async def test_a_detected_gpu_becomes_the_plans_card(make_app):
    app = make_app(start="hardware")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.plan.gpu is not None, "the plan's card")
        assert app.plan.gpu.detected and app.plan.gpu.name == "NVIDIA H200"
        gauge = app.screen.query_one(VramGauge)
        await wait_until(pilot, lambda: gauge.samples is not None, "the gauge's first reading")
        assert len(gauge.samples.gpus) == 1
        text = screen_text(app)
        assert "NVIDIA H200" in text and "detected here" in text
        assert "100.0 GiB free of 128.0 GiB" in text
        assert "500 GiB free for models" in text


async def test_the_plans_estimate_is_marked_on_the_gauge(make_app):
    app = make_app(Plan(model="Qwen/Qwen3-8B"), start="hardware")
    async with app.run_test(size=(80, 24)) as pilot:
        gauge = app.screen.query_one(VramGauge)
        await wait_until(pilot, lambda: bool(gauge.estimate_gib), "the estimate on the gauge")
        assert 3 < gauge.estimate_gib < 20  # QLoRA of an 8B model
        assert gauge.fit_for(0) == "fits"


async def test_without_a_gpu_enter_plans_for_the_highlighted_card(make_app):
    app = make_app(gpus=0, start="hardware")
    async with app.run_test(size=(80, 24)) as pilot:
        gauge = app.screen.query_one(VramGauge)
        await wait_until(pilot, lambda: gauge.samples is not None, "the gauge's first reading")
        assert app.plan.gpu is None
        assert app.focused is gauge
        await pilot.press("down", "enter")
        assert app.plan.gpu is not None and not app.plan.gpu.detected
        assert app.plan.gpu.name == gauge.cards[1].name
        assert "a card to rent" in screen_text(app)
