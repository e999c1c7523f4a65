"""Step 4: inspecting a file fills the Plan's dataset; problems carry row numbers; rows appear literally."""

import json

from ftui.core.plan import Plan
from tests.tui.conftest import SAMPLE, text_of, wait_for_text, wait_until


async def submit(pilot, app, source: str) -> None:  # type: ignore[no-untyped-def]
    field = app.screen.query_one("#source")
    field.focus()  # (after an inspection the report has the focus; / comes back here)
    field.value = source
    await pilot.press("enter")


async def test_the_sample_dataset_is_summarised_previewed_and_advised(make_app):
    app = make_app(start="data")
    async with app.run_test(size=(80, 24)) as pilot:
        await submit(pilot, app, str(SAMPLE))
        await wait_for_text(app, pilot, "#data-status", "Read every row")
        assert app.plan.dataset is not None
        assert (app.plan.dataset.rows, app.plan.dataset.format) == (80, "alpaca")
        assert app.plan.settings.seq == 256  # the inspector's suggested max length became the default
        summary = text_of(app.screen.query_one("#summary"))
        assert "80 read, 80 usable" in summary and "p95" in summary
        advice = text_of(app.screen.query_one("#advice"))
        assert "instruct model" in advice and "fewer than 300" in advice
        preview = text_of(app.screen.query_one("#preview"))
        assert "What is photosynthesis?" in preview


async def test_problems_name_their_line_and_markup_in_rows_stays_literal(make_app, tmp_path):
    rows = [
        {
            "instruction": f"Question {i} [bold]not bold[/bold] \x1b[31mred\x1b[0m",
            "input": "",
            "output": f"Answer {i}",
        }
        for i in range(6)
    ]
    path = tmp_path / "odd.jsonl"
    lines = [json.dumps(row) for row in rows]
    lines.insert(3, '{"instruction": "broken json"')  # line 4
    lines.insert(5, json.dumps({"instruction": "no answer", "input": "", "output": ""}))  # line 6
    path.write_text("\n".join(lines) + "\n")
    app = make_app(start="data")
    async with app.run_test(size=(80, 24)) as pilot:
        await submit(pilot, app, str(path))
        await wait_for_text(app, pilot, "#data-status", "Read every row")
        problems = text_of(app.screen.query_one("#problems"))
        assert "line 4" in problems and "line 6" in problems
        preview = app.screen.query_one("#preview")
        await pilot.pause()
        shown = "\n".join(
            "".join(s.text for s in strip) for strip in preview.render_lines(preview.region.reset_offset)
        )
        assert "[bold]not bold[/bold] red" in shown  # markup shown as typed, the escape sequence removed
        assert "\x1b" not in text_of(preview)


async def test_a_missing_file_is_one_sentence_and_the_plan_keeps_its_data(make_app, tmp_path):
    from ftui.core.plan import DatasetSummary

    before = DatasetSummary(source=str(SAMPLE), rows=80, format="alpaca")
    app = make_app(Plan(dataset=before), start="data")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(app, pilot, "#data-status", "Read every row")
        await submit(pilot, app, str(tmp_path / "nope.jsonl"))
        status = await wait_for_text(app, pilot, "#data-status", "nope.jsonl")
        assert status.strip().endswith(".") and status.count("\n") <= 2
        assert app.plan.dataset.source == str(SAMPLE)


async def type_until_suggested(app, pilot, text: str):  # type: ignore[no-untyped-def]
    """Type into the path field and wait for its completion (listed in a thread) to arrive."""
    field = app.screen.query_one("#source")
    await pilot.press(*text)
    await wait_until(pilot, lambda: bool(field.completion), "a completion of the path")
    return field


async def test_right_arrow_completes_a_path(make_app, tmp_path):
    (tmp_path / "my_dataset.jsonl").write_text("{}\n")
    app = make_app(start="data")
    async with app.run_test(size=(80, 24)) as pilot:
        field = await type_until_suggested(app, pilot, f"{tmp_path}/my_")
        await pilot.press("right")
        assert field.value == f"{tmp_path}/my_dataset.jsonl"


async def test_tab_completes_a_path_as_a_shell_does_and_otherwise_moves_on(make_app, tmp_path):
    (tmp_path / "my_dataset.jsonl").write_text("{}\n")
    app = make_app(start="data")
    async with app.run_test(size=(80, 24)) as pilot:
        field = await type_until_suggested(app, pilot, f"{tmp_path}/my_")
        await pilot.press("tab")
        assert field.value == f"{tmp_path}/my_dataset.jsonl"
        assert field.has_focus  # completing keeps the field: Enter inspects next
        await wait_until(pilot, lambda: not field.completion, "the completion to be used up")
        await pilot.press("tab")  # nothing left to complete: the usual next field
        assert not field.has_focus


async def test_a_vision_dataset_shows_each_rows_image_beside_its_text_and_pages_by_keys(make_app, tmp_path):
    import pytest

    pytest.importorskip("textual_image", reason="textual-image draws the preview's images (pyproject.toml)")
    from tests.helpers.images import colour_rows, write_rows

    data = write_rows(tmp_path / "colours.jsonl", colour_rows(tmp_path, 6, size=(40, 40)))
    app = make_app(start="data")
    async with app.run_test(size=(80, 24)) as pilot:
        await submit(pilot, app, str(data))
        await wait_for_text(app, pilot, "#data-status", "Read every row")
        assert app.plan.dataset.modality == "vision" and app.plan.dataset.image_size == (40, 40)
        summary = text_of(app.screen.query_one("#summary"))
        assert "6 in 6 rows" in summary and "image tokens" in summary
        preview = app.screen.query_one("#preview")

        def shown() -> str:
            return "\n".join(
                "".join(s.text for s in strip) for strip in preview.render_lines(preview.region.reset_offset)
            )

        await pilot.pause()
        first = shown()
        assert "row 1" in first and "row 2" in first and "▀" in first  # the image, as half blocks
        assert "user: <image>what colour is this" in text_of(preview)
        await pilot.press("escape", "right_square_bracket")
        await wait_until(pilot, lambda: "row 3" in text_of(preview), "the next page of rows")
        assert "rows 3-4 of the first 6" in text_of(preview)
        await pilot.press("left_square_bracket")
        await wait_until(pilot, lambda: "row 1" in text_of(preview), "the first page again")


async def test_after_reading_the_data_the_step_keys_work_and_slash_comes_back_to_the_path(make_app):
    app = make_app(start="data")
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.focused.id == "source"
        await pilot.press(*str(SAMPLE), "enter")
        await wait_for_text(app, pilot, "#data-status", "n goes on")
        await wait_until(pilot, lambda: app.focused.id == "data-left", "the focus on the report")
        await pilot.press("slash")
        assert app.focused.id == "source"
        await pilot.press("escape", "n")  # n goes on, as the status line says
        await wait_until(pilot, lambda: app.current_step == "models", "the models step")
        await pilot.press("4")  # back: the report has the focus again, not the field
        await wait_until(
            pilot, lambda: app.focused is not None and app.focused.id == "data-left", "the report"
        )


async def test_a_long_inspection_shows_how_many_rows_are_read(make_app, tmp_path):
    from ftui.screens.data import DataScreen

    rows = 20_000  # the checker reports every 2,000 rows, however fast this machine reads them
    data = tmp_path / "big.jsonl"
    data.write_text("".join(f'{{"instruction": "q{i}", "output": "a{i}"}}\n' for i in range(rows)))
    seen: list[DataScreen.InspectionProgressed] = []

    def hook(message) -> None:  # type: ignore[no-untyped-def]
        if isinstance(message, DataScreen.InspectionProgressed):
            seen.append(message)

    app = make_app(start="data")
    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        await submit(pilot, app, str(data))
        await wait_for_text(app, pilot, "#data-status", "Read every row")
        assert seen and all(m.total == rows and m.source == str(data) for m in seen)
        # A newer report replaces one still queued (can_replace), so a loaded machine may skip the first
        # ones; what arrives is in order and reaches past the first 2,000 rows.
        counts = [m.rows for m in seen]
        assert counts == sorted(counts) and max(counts) >= 2000
        # what a progress report looks like while the rows are read (a late one, after the report, is not shown)
        screen = app.screen
        screen.reading = str(data)
        screen.post_message(DataScreen.InspectionProgressed(str(data), 8000, rows))
        await wait_for_text(app, pilot, "#data-status", "8,000 of 20,000 rows (40%)")
        screen.reading = None
        screen.post_message(DataScreen.InspectionProgressed(str(data), 9000, rows))
        await pilot.pause()
        assert "9,000" not in text_of(screen.query_one("#data-status"))
