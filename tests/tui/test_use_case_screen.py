"""Step 1: the use case and the commercial-use question edit the Plan."""

from textual.widgets import Checkbox, RadioSet


async def test_arrows_and_enter_choose_the_use_case(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.plan.use_case == "general"
        assert isinstance(app.focused, RadioSet)
        await pilot.press("down", "enter")
        assert app.plan.use_case == "code"
        await pilot.press("down", "down", "enter")
        assert app.plan.use_case == "reasoning"


async def test_c_marks_the_result_for_commercial_use(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        assert app.plan.needs_commercial_use is True
        assert app.screen.query_one(Checkbox).value is True
        await pilot.press("c")
        assert app.plan.needs_commercial_use is False


async def test_the_screen_shows_a_plan_changed_elsewhere(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.set_focus(None)
        await pilot.press("2")
        app.plan.use_case = "vision"
        app.plan.needs_commercial_use = True
        await pilot.press("1")
        chosen = [b.name for b in app.screen.query("RadioButton") if b.value]
        assert chosen == ["vision"]
        assert app.screen.query_one(Checkbox).value is True
