"""Step 8, try: a prompt answered by the fine-tuned model beside its base (and a second run), streamed from
the exporter's real chat process on the tiny model trained in this session; the temperature; a model
that does not fit the free GPU memory refused with the estimate; untrusted output made safe."""

from __future__ import annotations

import pytest

from ftui.app import FtuiApp
from tests.fakes.nvml import GIB, FakeNvml, t4
from tests.helpers.finished_run import copy_run
from tests.tui.conftest import (
    PROCESS_GUARD_S,
    fixed_hardware,
    live_chat_processes,
    text_of,
    wait_for_text,
    wait_until,
    write_run,
)


async def try_from_runs_step(app, pilot, rows: int = 1):  # type: ignore[no-untyped-def]
    """`t` on the highlighted (newest) run of the runs step."""
    table = app.screen.query_one("#runs-table")
    await wait_until(pilot, lambda: table.row_count == rows, "the runs listed")
    await pilot.press("t")
    await wait_until(pilot, lambda: app.current_step == "try", "the try step")
    return app.screen


def keys(text: str) -> list[str]:
    """The keys that type `text` (Pilot names the space bar)."""
    return ["space" if c == " " else c for c in text]


def pane(app, name: str):  # type: ignore[no-untyped-def]
    return app.screen.query_one(f"#{name}")


def answered(app, name: str) -> bool:
    turns = pane(app, name).turns
    return bool(turns) and turns[-1].done and "tokens in" in turns[-1].note


@pytest.mark.slow
async def test_a_prompt_streams_the_fine_tuned_answer_beside_the_base_and_a_second_run(
    make_app, finished_run, tmp_path
):
    runs = tmp_path / "runs"
    second = copy_run(finished_run, runs, name="20260101-000000-second")
    run = copy_run(finished_run, runs)  # the newest: highlighted first
    app = make_app(gpus=0, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await try_from_runs_step(app, pilot, rows=2)
        head = await wait_for_text(app, pilot, "#try-head", "template chatml")
        assert run.name in head and "temperature 0 (greedy)" in head
        # t loads the model at once, in the exporter's chat process, after the memory check.
        status = await wait_for_text(app, pilot, "#try-status", "on the cpu", timeout=PROCESS_GUARD_S)
        assert run.name in status

        await pilot.press("escape", "c")  # a second run beside it, from the picker
        await wait_until(pilot, lambda: app.screen.query("#picker-runs"), "the run picker")
        options = app.screen.query_one("#picker-runs")
        await wait_until(pilot, lambda: options.option_count == 2, "the finished runs offered")
        assert options.get_option_at_index(0).id == "-"  # "No second run" first; the tried run left out
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.screen is screen, "back on the try step")
        assert pane(app, "second").display and second.name in str(pane(app, "second").border_title)

        prompt = app.screen.query_one("#prompt")
        await wait_until(pilot, lambda: prompt.has_focus, "the prompt focused")
        await pilot.press(*keys("what is 2 plus 3"), "enter")
        for name in ("tuned", "base", "second"):
            await wait_until(
                pilot, lambda name=name: answered(app, name), f"the {name} answer", PROCESS_GUARD_S
            )
            assert "what is 2 plus 3" in text_of(pane(app, name).query_one("#answer-text"))
        base = pane(app, "base").turns[-1]
        assert base.answer and "256 tokens" in base.note  # the random base rambles to the limit
        assert pane(app, "tuned").turns[-1].answer != base.answer
        # The same weights answer the same greedy prompt the same way: the copy beside it agrees.
        assert pane(app, "second").turns[-1].answer == pane(app, "tuned").turns[-1].answer
        assert prompt.value == ""
        processes = live_chat_processes(run) + live_chat_processes(second)
        assert len(processes) == 2  # one model process per run; the base shares the first's weights
    for process in processes:
        process.wait(timeout=30)  # leaving the app ends them


@pytest.mark.slow
async def test_the_temperature_is_adjustable_and_greedy_by_default(make_app, finished_run, tmp_path):
    copy_run(finished_run, tmp_path / "runs")
    app = make_app(gpus=0, start="try")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(app, pilot, "#try-head", "template chatml")  # the newest finished run
        screen = app.screen
        assert screen.check_action("temperature", (-1,)) is False  # typed into the prompt while it has focus
        await pilot.press("escape")
        assert screen.check_action("temperature", (-1,)) is None  # 0 is the floor: shown dimmed
        await pilot.press("plus", "plus", "plus")
        await wait_for_text(app, pilot, "#try-head", "temperature 0.3 (sampled)")
        await pilot.press("minus")
        await wait_for_text(app, pilot, "#try-head", "temperature 0.2 (sampled)")
        await pilot.press("p", *keys("hi"), "enter")
        await wait_for_text(app, pilot, "#try-status", "temperature 0.2 (sampled)", timeout=PROCESS_GUARD_S)
        await wait_until(pilot, lambda: answered(app, "base"), "the base answer", PROCESS_GUARD_S)
        note = pane(app, "base").turns[-1].note
        assert "tokens in" in note


async def test_a_model_that_does_not_fit_the_free_gpu_memory_is_refused_with_the_estimate(
    tmp_path, finished_run
):
    runs = tmp_path / "runs"
    run = copy_run(finished_run, runs)
    busy = FakeNvml([t4(memory_used=int(14.9 * GIB))])  # a T4 with 0.1 GiB free
    app = FtuiApp(
        hardware=fixed_hardware(busy, runs), nvml=busy, gauge_interval=3600, runs_dir=runs, start="runs"
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await try_from_runs_step(app, pilot)
        said = await wait_for_text(app, pilot, "#try-status", "GiB free")
        assert "needs about 0.9 GiB of GPU memory (" in said and "cuda context 0.87 GiB)" in said
        assert "the Tesla T4 has 0.1 GiB free" in said
        assert "GiB free" in text_of(pane(app, "tuned").query_one("#answer-text"))  # in the panes too
        assert app.screen.slots["main"].process is None and not live_chat_processes(run)


@pytest.mark.slow
async def test_a_second_model_that_would_not_fit_beside_the_first_is_refused(tmp_path, finished_run):
    runs = tmp_path / "runs"
    copy_run(finished_run, runs, name="20260101-000000-second")
    run = copy_run(finished_run, runs)
    # 1.5 GiB free: one model process fits (0.9 GiB, mostly the CUDA context), two at once do not.
    roomy = FakeNvml([t4(memory_used=int(13.5 * GIB))])
    app = FtuiApp(
        hardware=fixed_hardware(roomy, runs), nvml=roomy, gauge_interval=3600, runs_dir=runs, start="runs"
    )
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await try_from_runs_step(app, pilot, rows=2)
        await pilot.press("escape", "c")
        await wait_until(pilot, lambda: app.screen.query("#picker-runs"), "the run picker")
        options = app.screen.query_one("#picker-runs")
        await wait_until(pilot, lambda: options.option_count == 2, "the finished runs offered")
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.screen is screen, "back on the try step")
        said = await wait_for_text(app, pilot, "#try-status", "still loading", timeout=PROCESS_GUARD_S)
        assert f"and {run.name}, still loading, about 0.9 GiB" in said and "of the 1.5 GiB free" in said
        assert screen.slots["second"].process is None


async def test_a_run_that_is_not_finished_cannot_be_tried(make_app, tmp_path):
    write_run(tmp_path / "runs", "20260105-100000-failed", state="failed")
    app = make_app(start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await try_from_runs_step(app, pilot)
        said = await wait_for_text(app, pilot, "#try-status", "no finished model to try")
        assert "Run 20260105-100000-failed ended failed" in said
        await pilot.press(*"hello", "enter")
        assert "no finished model to try" in text_of(app.screen.query_one("#try-status"))


async def test_without_a_finished_run_the_step_says_what_to_do(make_app, tmp_path):
    app = make_app(start="try")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(app, pilot, "#try-status", "No finished run yet: train one on step 6")


async def test_streamed_text_is_drawn_without_control_sequences_or_secrets():
    from textual.app import App

    from ftui.widgets.answer_pane import AnswerPane

    token = "hf_" + "A1b2C3d4" * 5

    class One(App):
        def compose(self):  # type: ignore[no-untyped-def]
            yield AnswerPane("fine-tuned", id="pane")

    app = One()
    async with app.run_test(size=(80, 24)) as pilot:
        answer = app.query_one(AnswerPane)
        answer.begin("say [bold]hi[/bold]")
        answer.stream("\x1b[31mred\x1b[0m and \x1b]0;title\x07 then hf_A1b")  # a token's start, cut mid-way
        await pilot.pause()
        shown = text_of(answer.query_one("#answer-text"))
        assert "say [bold]hi[/bold]" in shown  # the prompt as typed, never markup
        assert "red and  then" in shown and "\x1b" not in shown and "title" not in shown
        assert "hf_A1b" not in shown  # held back until it is known not to be a token
        answer.finish(f"red, then {token}.", "3 tokens in 0.1 s, eos")
        await pilot.pause()
        shown = text_of(answer.query_one("#answer-text"))
        assert token not in shown and "hf_***" in shown and "3 tokens in 0.1 s, eos" in shown


async def test_every_new_action_is_in_the_key_bar_and_the_command_palette(make_app, tmp_path):
    from textual.command import CommandList, CommandPalette

    from ftui.widgets.key_bar import KeyBar
    from tests.tui.conftest import write_finished_run

    write_finished_run(tmp_path / "runs", "20260105-100000-qwen3-8b")
    app = make_app(start="runs")

    def bar() -> str:
        return app.screen.query_one(KeyBar).render().plain

    def titles() -> set[str]:
        return {command.title for command in app.get_system_commands(app.screen)}

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one("#runs-table").row_count == 1, "the run")
        assert all(hint in bar() for hint in ("x Export", "t Try", "v Vs base"))
        assert {"Export", "Try", "Vs base"} <= titles()

        await pilot.press("x")
        await wait_until(pilot, lambda: app.screen.query("#export-size"), "the export sheet")
        assert all(hint in bar() for hint in ("⏎ Start export", "l Last export", "esc Close"))
        assert {"Start export", "Last export", "Close"} <= titles()
        await pilot.press("escape")

        # A command run from the palette does what its key does: Try opens the try step with this run.
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"try")
        commands = app.screen.query_one(CommandList)
        await wait_until(
            pilot, lambda: commands.option_count > 0 and commands.highlighted is not None, "matches"
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.current_step == "try", "the try step")
        await wait_for_text(app, pilot, "#try-head", "20260105-100000-qwen3-8b")
        await pilot.press("escape")  # out of the prompt: the step's keys
        assert all(hint in bar() for hint in ("r Run", "c Beside", "-/+ Temperature", "p Prompt", "1-8 Step"))
        assert {"Run", "Beside", "Cooler", "Warmer", "Prompt", "Go to Try"} <= titles()
