"""Step 3: the policy edits the Plan; the advice's licenses and removals are shown, with reasons."""

from ftui.core.plan import Plan
from tests.tui.conftest import text_of, wait_for_text


async def test_permissive_removes_conditional_licenses_with_their_reason(make_app):
    app = make_app(Plan(license_policy="any"), start="license")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(app, pilot, "#removed", "removed no model")
        await pilot.press("down", "down", "enter")
        assert app.plan.license_policy == "permissive"
        removed = await wait_for_text(app, pilot, "#removed", "is not permissive")
        assert "meta-llama/" in removed
        licenses = await wait_for_text(app, pilot, "#licenses", "Apache License 2.0")
        assert "Llama" not in licenses.split("Models:")[0]


async def test_needing_commercial_use_tightens_any(make_app):
    app = make_app(Plan(license_policy="any", needs_commercial_use=True), start="license")
    async with app.run_test(size=(80, 24)) as pilot:
        note = text_of(app.screen.query_one("#policy-note"))
        assert "needs commercial use" in note
        await wait_for_text(app, pilot, "#removed", "does not allow commercial use")
