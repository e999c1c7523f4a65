"""Step 2: the gauge for the GPUs found, the machine's RAM and disks, or a card to plan for without a GPU."""

from ftui.core.plan import DatasetSummary, GpuChoice, Plan, TrainingSettings
from ftui.widgets.model_table import ModelTable
from ftui.widgets.vram_gauge import VramGauge
from tests.tui.conftest import text_of, wait_for_text, wait_until

CODER_32B = "Qwen/Qwen2.5-Coder-32B"


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


def key_bar_text(app) -> str:  # type: ignore[no-untyped-def]
    from ftui.widgets.key_bar import KeyBar

    return app.screen.query_one(KeyBar).render().plain


async def test_the_plan_counts_the_gpus_found_here(make_app):
    app = make_app(gpus=2, start="hardware")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.plan.gpu is not None, "the plan's card")
        assert app.plan.gpu.detected and app.plan.gpu.count == 2
        assert "Planning for 2 x NVIDIA H200 (140.4 GiB each, bf16, detected here" in screen_text(
            app
        ).replace("\n", " ")


async def test_minus_and_plus_set_how_many_cards_the_plan_trains_on(make_app):
    # Long rows in pairs on a 24 GB card: QLoRA of a 32B coder is too big for one, and fits two sharded
    # (the case tests/core/test_sharding.py checks in the core).
    plan = Plan(
        use_case="code",
        gpu=GpuChoice("RTX 4090", 23.99, True),
        dataset=DatasetSummary(source="rows.jsonl", rows=1000, format="alpaca"),
        settings=TrainingSettings(batch=4, seq=4096),
    )
    app = make_app(plan, gpus=0, start="hardware")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(app, pilot, "#plan-gpu", "Planning for RTX 4090 (24.0 GiB")
        assert "-/+ Cards" in key_bar_text(app)
        await pilot.press("minus")  # never fewer than one
        assert app.plan.gpu.count == 1
        await pilot.press("plus")
        assert app.plan.gpu.count == 2 and app.plan.gpu.name == "RTX 4090"
        line = await wait_for_text(app, pilot, "#plan-gpu", "Planning for 2 x RTX 4090 (24.0 GiB each")
        assert "a card to rent" in line
        await pilot.press(*"+" * 10)  # one machine's worth at most
        assert app.plan.gpu.count == 8
        await pilot.press(*"-" * 6)
        assert app.plan.gpu.count == 2

        await pilot.press("5")  # the models step: its shortlist is for two cards
        assert app.current_step == "models"
        table = app.screen.query_one(ModelTable)
        await wait_until(
            pilot, lambda: CODER_32B in {c.model.hf_id for c in table.candidates}, "the 32B coder"
        )
        line = text_of(app.screen.query_one("#advice-line"))
        assert "on 2 x RTX 4090 (24 GiB each)" in line.replace("\n", " ")
        candidate = next(c for c in table.candidates if c.model.hf_id == CODER_32B)
        assert candidate.strategy["qlora"] == "fsdp"
        row = table.get_row_index(CODER_32B)
        qlora = table.get_cell_at((row, 4)).plain
        assert qlora.startswith(("fits", "tight")) and qlora.endswith("G sharded")
        first = table.get_cell_at((0, 4)).plain
        assert not first.endswith("sharded")  # an 8B model keeps a whole copy on each card
        table.move_cursor(row=row)
        details = await wait_for_text(app, pilot, "#detail", "with sharding")
        assert "on 2 with sharding" in " ".join(details.split())  # the core's reason, as it wrote it

        await pilot.press("2", "minus")  # back to one card: the 32B coder is too big for it
        await wait_for_text(app, pilot, "#plan-gpu", "Planning for RTX 4090 (24.0 GiB")
        await pilot.press("5")
        await wait_until(
            pilot, lambda: table.candidates and CODER_32B not in {c.model.hf_id for c in table.candidates}
        )


async def test_on_two_cards_the_gauge_marks_the_per_gpu_peak_of_the_sharded_run(make_app):
    plan = Plan(
        use_case="code",
        gpu=GpuChoice("RTX 4090", 23.99, True),
        model=CODER_32B,
        dataset=DatasetSummary(source="rows.jsonl", rows=1000, format="alpaca"),
        # the split as written: ftui's automatic one would shrink the micro-batch to fit one card
        settings=TrainingSettings(batch=4, seq=4096, auto_batch=False),
    )
    app = make_app(plan, gpus=0, start="hardware")
    async with app.run_test(size=(80, 24)) as pilot:
        gauge = app.screen.query_one(VramGauge)
        await wait_until(pilot, lambda: gauge.estimate_gib is not None, "the estimate for one card")
        one = gauge.estimate_gib
        assert one > 23.99  # too big for one card
        await pilot.press("plus")
        await wait_until(pilot, lambda: gauge.estimate_gib != one, "the estimate for two cards")
        assert gauge.estimate_gib <= 23.99  # sharded over two, each holds less than a card


def test_the_train_steps_memory_line_is_per_gpu_on_several_cards():
    from ftui.screens.base import estimate_plan
    from ftui.screens.train import estimate_text

    plan = Plan(
        model=CODER_32B,
        gpu=GpuChoice("RTX 4090", 23.99, True, count=2),
        settings=TrainingSettings(batch=4, seq=4096, auto_batch=False),
    )
    line = estimate_text(estimate_plan(plan), plan).plain.splitlines()[0]
    assert (
        line.startswith("Memory about ")
        and " GiB at its peak per GPU on 2 x RTX 4090 (24 GiB each): " in line
    )
    assert line.endswith(("fits", "fits only just"))
