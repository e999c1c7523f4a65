"""Help on every step: `?` and F1 show the keys of the step and the global ones; the command palette finds
the actions of every step from anywhere; each training setting says what it does."""

from __future__ import annotations

import pytest
from textual.command import CommandList, CommandPalette

from ftui.core.plan import Plan
from ftui.screens.help import HelpScreen
from ftui.screens.train_form import FIELDS
from tests.tui.conftest import text_of, wait_for_text, wait_until


@pytest.mark.parametrize("key", ["question_mark", "f1"])
async def test_help_key_opens_the_key_map_of_the_step(make_app, key):
    app = make_app(start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.set_focus(None)
        await pilot.press(key)
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the key map")
        shown = text_of(app.screen.query_one("#help"))
        assert "Keys of this step (Train)" in shown
        for words in ("Start", "Script", "Everywhere", "Go to a step: 1 Use case", "Next", "Quit"):
            assert words in shown
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.current_step == "train", "the step again")


async def test_help_lists_the_focused_widgets_keys_too(make_app):
    app = make_app(start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the key map")
        shown = text_of(app.screen.query_one("#help"))
        assert "Attach" in shown and "Rename" in shown and "Delete" in shown


async def test_the_palette_finds_the_actions_of_every_step_from_the_first(make_app):
    app = make_app(Plan(), start="use_case")
    async with app.run_test(size=(80, 24)) as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in (
            "Train: Start",
            "Train: Script",
            "Train: New run",
            "Train: Export script",
            "Runs: New run from this",
            "Runs: Rename",
            "Models: Decode a name",
            "Help",
            "Go to Runs",
        ):
            assert title in titles, title
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"train: start")
        commands = app.screen.query_one(CommandList)
        await wait_until(
            pilot, lambda: commands.option_count > 0 and commands.highlighted is not None, "a match"
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.current_step == "train", "the train step")
        # run there, as its key would: without a model it says what to do
        await wait_for_text(app, pilot, "#form-status", "no model or no dataset")


async def test_each_setting_says_what_it_does_when_focused(make_app):
    app = make_app(start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(app, pilot, "#field-help", "QLoRA trains adapters")  # the method has the focus
        for field in FIELDS:
            app.screen.query_one(f"#field-{field.key}").focus()
            await wait_for_text(app, pilot, "#field-help", field.help[:40])
            focused = app.screen.query_one(f"#field-{field.key}")
            # the focused field is on screen, however far down the form it is
            assert focused.region.y + focused.region.height <= 24 and focused.region.y >= 0


async def test_the_advanced_settings_are_on_the_form_and_edit_the_plan(make_app):
    app = make_app(start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        answers = app.screen.query_one("#field-responses_only")
        answers.focus()
        await pilot.press("space")
        await wait_until(pilot, lambda: app.plan.settings.responses_only, "answers only in the plan")
        app.screen.query_one("#field-warmup_steps").value = "20"
        app.screen.query_one("#field-save_steps").value = "25"
        await wait_until(
            pilot,
            lambda: (app.plan.settings.warmup_steps, app.plan.settings.save_steps) == (20, 25),
            "warmup and save steps in the plan",
        )


async def test_a_vision_plans_choices_say_what_they_do_too(make_app):
    from ftui.screens.train_form import CHOICE_HELP

    app = make_app(Plan(use_case="vision", model="Qwen/Qwen2.5-VL-7B-Instruct"), start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        for widget_id, help_line in CHOICE_HELP.items():
            widget = app.screen.query_one(f"#{widget_id}")
            await wait_until(pilot, lambda w=widget: w.display, "the vision choices")  # noqa: B023
            widget.focus()
            await wait_for_text(app, pilot, "#field-help", help_line[:40])
