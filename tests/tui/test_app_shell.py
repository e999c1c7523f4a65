"""The shell: every step by its key and in order, keys in the Footer, the same actions in the palette."""

import pytest
from textual.command import CommandPalette

from ftui.app import FtuiApp
from ftui.core.plan import Plan
from ftui.screens import STEP_NAMES, STEPS
from ftui.widgets.key_bar import KeyBar
from tests.tui.conftest import wait_until


def make_app(tmp_path, **kwargs) -> FtuiApp:
    return FtuiApp(Plan(), probe_hardware=False, runs_dir=tmp_path / "runs", **kwargs)


async def test_the_first_screen_is_the_use_case(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)):
        assert app.current_step == "use_case"


async def test_next_and_back_walk_the_steps_in_order(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.set_focus(None)
        seen = [app.current_step]
        for _ in STEPS[1:]:
            await pilot.press("n")
            seen.append(app.current_step)
            app.screen.set_focus(None)  # a screen may focus a text field: escape would do the same
        assert seen == list(STEP_NAMES)
        await pilot.press("n")  # nothing after the last step
        assert app.current_step == STEP_NAMES[-1]
        for name in reversed(STEP_NAMES[:-1]):
            app.screen.set_focus(None)
            await pilot.press("b")
            assert app.current_step == name


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
async def test_each_step_opens_by_its_key(tmp_path, step):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.set_focus(None)
        await pilot.press(step.key)
        assert app.current_step == step.name


async def test_screens_keep_their_state_between_visits(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        first = app.screen
        app.screen.set_focus(None)
        await pilot.press("2", "1")
        assert app.screen is first


async def test_escape_leaves_a_text_field_so_the_step_keys_work_again(tmp_path):
    app = make_app(tmp_path, start="data")
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.focused.id == "source"
        await pilot.press("n")  # typed into the field
        assert app.current_step == "data" and app.focused.value == "n"
        assert "esc Leave field" in app.screen.query_one(KeyBar).render().plain
        await pilot.press("escape", "n")
        assert app.current_step == "models"


async def test_the_key_bar_shows_every_binding_of_the_screen(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        bar = app.screen.query_one(KeyBar)
        shown = bar.render().plain
        assert f"1-{len(STEPS)} Step" in shown
        for _, binding, _, _ in app.screen.active_bindings.values():
            if binding.show and binding.group is None:
                assert f"{app.get_key_display(binding)} {binding.description}" in shown
        assert "^p Commands" in shown


async def test_the_key_bar_wraps_instead_of_cutting_keys_off(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(40, 24)) as pilot:
        bar = app.screen.query_one(KeyBar)
        await wait_until(pilot, lambda: bar.size.height == 2, "the key bar on two lines")
        lines = bar.render().plain.split("\n")
        assert len(lines) == 2 and bar.size.height == 2
        assert all(len(line) <= 40 for line in lines)
        assert "q Quit" in bar.render().plain


async def test_back_is_disabled_on_the_first_step(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)):
        active = {b.binding.action: b.enabled for b in app.screen.active_bindings.values()}
        assert active["app.previous_step"] is False
        assert active["app.next_step"] is True


async def test_the_command_palette_offers_every_binding(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for step in STEPS:
            assert f"Go to {step.title}" in titles
        assert {"Next", "Back", "Commercial use", "Quit"} <= set(titles)
        # and running one from the palette does what its key does
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"go to data")
        from textual.command import CommandList

        commands = app.screen.query_one(CommandList)
        await wait_until(
            pilot, lambda: commands.option_count > 0 and commands.highlighted is not None, "matches"
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.current_step == "data", "the data step")


def test_no_animation(tmp_path):
    # (mouse capture is checked in a real terminal: tests/e2e/test_tmux_flow.py)
    assert make_app(tmp_path).animation_level == "none"


async def test_escape_then_a_step_key_read_as_alt_key_leaves_the_field_and_goes(tmp_path):
    """A terminal reads Esc then 2, typed quickly, as Alt+2: the field must not get a "2"."""
    app = make_app(tmp_path, start="data")
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.focused.id == "source"
        await pilot.press(*"abc", "alt+2")
        await wait_until(pilot, lambda: app.current_step == "hardware", "the hardware step")
        assert app.get_screen("data").query_one("#source").value == "abc"


async def test_every_visit_starts_on_the_steps_main_widget(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.focused.id == "use-case"
        await pilot.press("escape")  # nothing focused now
        app.screen.set_focus(None)
        await pilot.press("2", "1")
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "use-case", "the focus")
        await pilot.press("7")
        await wait_until(
            pilot, lambda: app.focused is not None and app.focused.id == "runs-table", "the table"
        )


async def test_escape_then_n_outside_a_field_is_still_next(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("alt+n")  # Esc then n, typed quickly where no field has the focus
        await wait_until(pilot, lambda: app.current_step == "hardware", "the next step")
