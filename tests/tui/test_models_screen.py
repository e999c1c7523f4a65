"""Step 5: the advice's shortlist, Enter chooses a model for the Plan, the decoder reads any name."""

from ftui.core.plan import GpuChoice, Plan
from ftui.widgets.model_table import ModelTable
from tests.tui.conftest import text_of, wait_for_text, wait_until, workers_done


async def wait_for_rows(app, pilot) -> ModelTable:  # type: ignore[no-untyped-def]
    table = app.screen.query_one(ModelTable)
    await wait_until(pilot, lambda: table.row_count > 0, "the shortlist")
    return table


async def test_the_shortlist_shows_fits_and_enter_chooses(make_app):
    plan = Plan(gpu=GpuChoice("RTX 4090", 24.0, True))
    app = make_app(plan, gpus=0, start="models")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await wait_for_rows(app, pilot)
        first = table.candidates[0]
        assert table.get_cell_at((0, 0)).plain == first.model.name
        qlora = table.get_cell_at((0, 4)).plain
        assert qlora.startswith(("fits", "tight")) and qlora.endswith("G")
        assert table.get_cell_at((0, 6)).plain.startswith("no")  # full fine-tuning of ~8B needs > 24 GiB
        details = await wait_for_text(app, pilot, "#detail", "Load")
        assert first.recommended_repo in details and "layers" in details and "Cached" in details
        await pilot.press("down", "enter")
        second = table.candidates[1]
        assert app.plan.model == second.model.hf_id
        assert app.plan.repo == second.recommended_repo
        assert "Chosen" in text_of(app.screen.query_one("#chosen"))


async def test_d_lists_what_was_left_out_and_why(make_app):
    app = make_app(start="models")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(app, pilot)
        await pilot.press("d")
        await wait_for_text(app, pilot, "#detail", "Left out, and why")
        await workers_done(app)  # details of the highlighted model must not replace it
        await pilot.pause()
        dropped = text_of(app.screen.query_one("#detail"))
        assert "Left out, and why" in dropped and "(use case)" in dropped


async def test_the_decoder_reads_a_name_and_u_uses_it(make_app):
    app = make_app(start="models")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(app, pilot)
        active = {b.binding.action: b.enabled for b in app.screen.active_bindings.values()}
        assert active["use_decoded"] is False  # nothing decoded yet: shown dimmed
        await pilot.press("slash")
        assert app.focused.id == "decoder"
        await pilot.press(*"unsloth/Llama-3.2-3B-Instruct-bnb-4bit", "enter")
        details = await wait_for_text(app, pilot, "#detail", "Reads")
        assert "Unsloth" in details and "3B" in details
        await wait_until(pilot, lambda: app.focused.id == "details", "the focus out of the field")
        assert "u Use this name" in text_of_key_bar(app)
        await pilot.press("u")
        # a name the catalog knows becomes its model, loaded from the repo for the plan's method
        assert app.plan.model == "meta-llama/Llama-3.2-3B-Instruct"
        assert app.plan.repo is not None and app.plan.repo.startswith("unsloth/Llama-3.2-3B-Instruct")


def text_of_key_bar(app) -> str:  # type: ignore[no-untyped-def]
    from ftui.widgets.key_bar import KeyBar

    return app.screen.query_one(KeyBar).render().plain


async def test_a_local_model_folder_is_a_choice_of_its_own(make_app, tmp_path):
    folder = tmp_path / "my-llama"
    folder.mkdir()
    (folder / "config.json").write_text(
        '{"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4,'
        ' "num_hidden_layers": 2, "intermediate_size": 128, "vocab_size": 300}'
    )
    app = make_app(start="models")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(app, pilot)
        assert "l Local model" in text_of_key_bar(app)
        await pilot.press("l")
        assert app.focused.id == "local-model"
        await pilot.press(*str(tmp_path / "my-l"), "tab")  # Tab completes the folder's name
        await wait_until(pilot, lambda: app.focused.value == str(folder) + "/", "the completed path")
        await pilot.press("enter")
        await wait_for_text(app, pilot, "#chosen", "my-llama")
        assert app.plan.model == str(folder) and app.plan.repo is None
        assert "a local folder" in text_of(app.screen.query_one("#detail"))
        await pilot.press("l")
        app.focused.value = str(tmp_path)  # a folder, but not a model's
        await pilot.press("enter")
        await wait_for_text(app, pilot, "#detail", "has no config.json")
        assert app.plan.model == str(folder)
