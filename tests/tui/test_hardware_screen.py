"""Step 2: the gauge for the GPUs found, the machine's RAM and disks, or a card to plan for without a GPU."""

from ftui.core.plan import Plan
from ftui.widgets.vram_gauge import VramGauge
from tests.tui.conftest import text_of


def screen_text(app) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(text_of(w) for w in app.screen.query("Static"))


async def test_a_detected_gpu_becomes_the_plans_card(make_app):
    app = make_app(start="hardware")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.plan.gpu is not None and app.plan.gpu.detected
        assert app.plan.gpu.name == "NVIDIA H200"
        gauge = app.screen.query_one(VramGauge)
        await pilot.pause(0.2)
        assert gauge.samples is not None and len(gauge.samples.gpus) == 1
        text = screen_text(app)
        assert "NVIDIA H200" in text and "detected here" in text
        assert "100.0 GiB free of 128.0 GiB" in text
        assert "500 GiB free for models" in text


async def test_the_plans_estimate_is_marked_on_the_gauge(make_app):
    app = make_app(Plan(model="Qwen/Qwen3-8B"), start="hardware")
    async with app.run_test(size=(80, 24)) as pilot:
        gauge = app.screen.query_one(VramGauge)
        for _ in range(50):
            await pilot.pause(0.05)
            if gauge.estimate_gib:
                break
        assert 3 < gauge.estimate_gib < 20  # QLoRA of an 8B model
        assert gauge.fit_for(0) == "fits"


async def test_without_a_gpu_enter_plans_for_the_highlighted_card(make_app):
    app = make_app(gpus=0, start="hardware")
    async with app.run_test(size=(80, 24)) as pilot:
        gauge = app.screen.query_one(VramGauge)
        for _ in range(50):
            await pilot.pause(0.05)
            if gauge.samples is not None:
                break
        assert app.plan.gpu is None
        assert app.focused is gauge
        await pilot.press("down", "enter")
        assert app.plan.gpu is not None and not app.plan.gpu.detected
        assert app.plan.gpu.name == gauge.cards[1].name
        assert "a card to rent" in screen_text(app)
