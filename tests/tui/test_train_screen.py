"""Step 6: the form edits the Plan's settings, shows the estimate and the script; the run view attaches to
a run directory and steers the real process behind it (stop, kill)."""

import contextlib
import os
import signal
import subprocess
import sys

from textual.widgets import Input

from ftui.core.plan import DatasetSummary, GpuChoice, Plan
from ftui.screens.train import FIELDS, FormError, form_values, read_form
from ftui.widgets.log_view import LogView
from ftui.widgets.loss_chart import LossChart
from ftui.widgets.run_view import RunView
from tests.tui.conftest import SAMPLE, text_of, wait_for_text, wait_until, workers_done, write_run


def planned() -> Plan:
    return Plan(
        model="Qwen/Qwen3-8B",
        gpu=GpuChoice("RTX 4090", 24.0, True),
        dataset=DatasetSummary(str(SAMPLE), rows=80, format="alpaca", total_tokens=2752),
    )


def test_read_form_parses_and_names_the_field_that_does_not():
    from ftui.core.plan import TrainingSettings

    base = TrainingSettings()
    values = {
        "rank": "32",
        "alpha": "64",
        "learning_rate": "1e-4",
        "epochs": "2",
        "max_steps": "",
        "batch": "1",
        "grad_accum": "8",
        "seq": "1024",
        "eval_split": "0.1",
        "optimizer": "adamw_torch",
        "template": "",
        "name": "try-1",
        "python": "",
    }
    settings, extras = read_form(values, "lora", base)
    assert (settings.method, settings.rank, settings.learning_rate, settings.max_steps) == (
        "lora",
        32,
        1e-4,
        None,
    )
    assert extras == {"template": None, "name": "try-1", "python": None}
    try:
        read_form({**values, "rank": "sixteen"}, "lora", base)
    except FormError as error:
        assert str(error) == "LoRA rank must be a whole number, not 'sixteen'."
    else:
        raise AssertionError("a bad rank was accepted")


def test_a_split_typed_in_is_the_users():
    from ftui.core.plan import TrainingSettings

    base = TrainingSettings()
    values = {f.key: v for f, v in zip(FIELDS, form_values(base, {}).values(), strict=True)}
    assert read_form(values, "qlora", base)[0].auto_batch is True  # the form as filled: ftui's choice
    assert read_form({**values, "batch": "4"}, "qlora", base)[0].auto_batch is False
    assert read_form({**values, "grad_accum": "2"}, "qlora", base)[0].auto_batch is False


async def test_the_estimate_says_which_split_the_run_uses_and_why(make_app):
    plan = planned()
    plan.gpu = GpuChoice("NVIDIA H200", 140.4, True, detected=True)
    app = make_app(plan, start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        shown = await wait_for_text(app, pilot, "#estimate", "Batch")
        # 80 short rows: 2 a micro-batch leave the H200 waiting; 8 at once keep the same 8 rows a step
        assert "8 x 1 (micro-batch x accumulation, 8 rows a step): the fastest split" in " ".join(
            shown.split()
        )
        app.screen.query_one("#field-batch", Input).value = "4"
        await wait_until(pilot, lambda: app.plan.settings.auto_batch is False, "the user's split")
        mine = await wait_for_text(app, pilot, "#estimate", "as you set it")
        assert "4 x 4 (micro-batch x accumulation, 16 rows a step) as you set it" in " ".join(mine.split())


async def test_edits_change_the_plan_and_the_estimate(make_app):
    app = make_app(planned(), start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        first = await wait_for_text(app, pilot, "#estimate", "GiB at its peak")
        assert "RTX 4090" in first and "Time" in first
        app.screen.query_one("#field-batch", Input).value = "8"
        await wait_until(pilot, lambda: app.plan.settings.batch == 8, "the batch in the plan")
        app.screen.query_one("#method").focus()
        await pilot.press("right")
        await wait_until(pilot, lambda: app.plan.settings.method == "lora", "LoRA in the plan")
        await wait_until(
            pilot,
            lambda: "GiB at its peak" in (t := text_of(app.screen.query_one("#estimate"))) and t != first,
            "a new estimate",
        )
        app.screen.query_one("#field-rank", Input).value = ""
        await wait_for_text(app, pilot, "#form-status", "LoRA rank is empty")


async def test_v_shows_the_script_for_these_settings(make_app):
    app = make_app(planned(), start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.set_focus(None)
        await pilot.press("v")
        script = await wait_for_text(app, pilot, "#script", "FastLanguageModel")
        assert "unsloth/Qwen3-8B" in script and "FastLanguageModel" in script
        await pilot.press("escape")
        assert app.current_step == "train"


async def test_start_without_a_model_says_what_to_do(make_app):
    app = make_app(Plan(), start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.set_focus(None)
        await pilot.press("s")
        await wait_for_text(app, pilot, "#form-status", "no model or no dataset")
        assert not list((app.runs_dir).glob("*"))


async def test_the_run_view_draws_a_finished_run(make_app, tmp_path):
    path = write_run(tmp_path / "runs", "20260105-100000-qwen3-8b", steps=30)
    from ftui.core.runs import RunDirectory

    app = make_app(start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        app.attach_run(RunDirectory(path))
        view = app.screen.query_one(RunView)
        progress = await wait_for_text(app, pilot, "#run-progress", "step 30/30")
        assert "loss" in progress and "eval" in progress
        assert "completed" in text_of(app.screen.query_one("#run-head"))
        chart = app.screen.query_one(LossChart)
        assert len(chart.series["train"].steps) == 30 and len(chart.series["eval"].steps) == 3
        log = view.query_one(LogView)
        await wait_until(pilot, lambda: log.line_count > 0, "the log on screen")  # on its own 0.1 s timer
        assert log.lines[-1] == "step 30/30"
        active = {b.binding.action: b.enabled for b in app.screen.active_bindings.values()}
        assert active["stop"] is False and active["resume"] is False and active["edit"] is True


async def test_attaching_to_a_long_log_reads_only_its_tail(make_app, tmp_path):
    lines = [f"line {i:07d} " + "x" * 40 for i in range(300_000)]  # 16 MB
    path = write_run(tmp_path / "runs", "20260105-100000-long", log_lines=lines)
    from ftui.core.runs import RunDirectory

    app = make_app(start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        app.attach_run(RunDirectory(path))
        log = app.screen.query_one(LogView)
        await wait_until(
            pilot, lambda: log.line_count > 0 and log.lines[-1] == lines[-1], "the log's last line"
        )
        assert log.lines_received < 10_000  # the tail only, not 300,000 lines
        assert log.line_count <= 2000


def sleeper() -> subprocess.Popen:
    """A real process in its own session, standing where the trainer would (the view steers by pid)."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)


@contextlib.asynccontextmanager
async def live_run_on_the_train_step(make_app, tmp_path, run_id: str):  # type: ignore[no-untyped-def]
    """The train step attached to a run whose process is a real sleeper; the process is gone afterwards."""
    from ftui.core.runs import RunDirectory

    process = sleeper()
    try:
        path = write_run(tmp_path / "runs", run_id, state="running", pid=process.pid)
        app = make_app(start="train")
        async with app.run_test(size=(80, 24)) as pilot:
            app.attach_run(RunDirectory(path), process)
            await wait_for_text(app, pilot, "#run-head", "running")
            app.screen.set_focus(None)
            yield app, pilot, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


async def test_k_twice_kills_the_live_run(make_app, tmp_path):
    async with live_run_on_the_train_step(make_app, tmp_path, "20260105-100000-live") as (
        app,
        pilot,
        process,
    ):
        await pilot.press("k")
        await workers_done(app)  # had the first k started a kill, it would be done now
        await pilot.pause()
        assert process.poll() is None  # the first k only asks for confirmation
        await pilot.press("k")
        await wait_for_text(app, pilot, "#run-head", "failed")
        assert process.wait(timeout=5) == -signal.SIGKILL


async def test_x_asks_the_live_run_to_stop(make_app, tmp_path):
    async with live_run_on_the_train_step(make_app, tmp_path, "20260105-100000-stop") as (
        app,
        pilot,
        process,
    ):
        await pilot.press("x")
        assert process.wait(timeout=5) == -signal.SIGTERM


async def test_a_vision_plan_chooses_which_parts_to_tune_and_the_estimate_follows(make_app):
    from ftui.core.plan import DatasetSummary, GpuChoice

    data = DatasetSummary(source="imgs.jsonl", rows=200, format="messages", total_tokens=80_000,
                          modality="vision", images_per_row=1, image_size=(1024, 768))  # fmt: skip
    plan = Plan(use_case="vision", model="Qwen/Qwen2.5-VL-7B-Instruct", dataset=data,
                gpu=GpuChoice("H200", 140.0))  # fmt: skip
    app = make_app(plan, start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        layers = app.screen.query_one("#vision-layers")
        await wait_until(pilot, lambda: layers.display, "the vision choices shown for a vision plan")
        estimate = app.screen.query_one("#estimate")
        await wait_until(pilot, lambda: "GiB" in text_of(estimate), "the first estimate")
        before = text_of(estimate)
        layers.focus()
        await pilot.press("right")  # vision + language -> language only
        await wait_until(
            pilot, lambda: not app.plan.settings.finetune_vision_layers, "the vision layers frozen"
        )
        assert app.plan.settings.finetune_language_layers
        await wait_until(pilot, lambda: text_of(estimate) != before, "the estimate for the frozen tower")
        modules = app.screen.query_one("#vision-modules")
        modules.focus()
        await pilot.press("right")  # attention + MLP -> attention only
        await wait_until(pilot, lambda: not app.plan.settings.finetune_mlp_modules, "the MLP left out")


async def test_a_text_plan_does_not_show_the_vision_choices(make_app):
    app = make_app(Plan(model="Qwen/Qwen2.5-7B-Instruct"), start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.screen.query_one("#vision-layers").display


def bad_data(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": "d"}\n'
        '{"instruction": "e", "output": ""}\n{"instruction": "x",\n'
    )
    return path


async def test_start_opens_the_preflight_sheet_and_a_blocked_run_never_starts(make_app, tmp_path):
    plan = Plan(
        model="google/gemma-2-27b",
        gpu=GpuChoice("A100 80GB", 80.0, True, detected=False),  # a card to rent; this machine has none
        dataset=DatasetSummary(str(bad_data(tmp_path)), rows=4, format="alpaca"),
    )
    app = make_app(plan, gpus=0, start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.set_focus(None)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.screen.query("#preflight"), "the preflight sheet")
        sheet = await wait_for_text(app, pilot, "#preflight", "stop the start")
        assert "made for the A100 80GB (a card to rent)" in sheet
        assert "27.2B model" in sheet and "lines 3, 4" in sheet
        assert "Line 3 of bad.jsonl" in sheet and "Line 4 of bad.jsonl" in sheet
        active = {b.binding.action: b.enabled for b in app.screen.active_bindings.values()}
        assert active["go"] is False  # Enter does not start a blocked run
        await pilot.press("enter")
        await pilot.press("s")  # skip the bad rows: the CPU and the Hub still block
        await wait_for_text(app, pilot, "#preflight", "they will be skipped")
        await pilot.press("escape")
        await wait_for_text(app, pilot, "#form-status", "Not started")
        assert app.current_step == "train" and not list(app.runs_dir.glob("*"))


async def test_the_script_is_saved_to_a_file_from_v_and_from_w(make_app, tmp_path):
    app = make_app(planned(), start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.set_focus(None)
        await pilot.press("v")
        await wait_for_text(app, pilot, "#script", "FastLanguageModel")
        script = app.screen.script
        await pilot.press("s")
        await wait_until(pilot, lambda: app.screen.query("#answer"), "the file name")
        answer = app.screen.query_one("#answer")
        assert answer.value.endswith("train-qwen3-8b.py")
        answer.value = str(tmp_path / "mine.py")
        await pilot.press("enter")
        await wait_until(pilot, lambda: (tmp_path / "mine.py").exists(), "the saved script")
        assert (tmp_path / "mine.py").read_text() == script
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.current_step == "train", "back on the form")
        app.screen.set_focus(None)
        await pilot.press("w")  # export without looking first: a folder gets train.py
        await wait_until(pilot, lambda: app.screen.query("#answer"), "the file name")
        app.screen.query_one("#answer").value = str(tmp_path)
        await pilot.press("enter")
        await wait_for_text(app, pilot, "#form-status", "Saved the script as")
        assert "FastLanguageModel" in (tmp_path / "train.py").read_text()


async def test_a_model_download_is_a_progress_bar_not_log_lines(make_app, tmp_path):
    import json

    from ftui.core.runs import RunDirectory

    trainer = sleeper()
    try:
        path = write_run(tmp_path / "runs", "20260105-100000-qwen3-8b", state="running", pid=trainer.pid)
        status = json.loads((path / "status.json").read_text())
        status.update(state="starting", phase="loading the model", step=0)
        (path / "status.json").write_text(json.dumps(status))
        (path / "metrics.jsonl").write_text("")
        # huggingface_hub's tqdm bars as train.log gets them: redrawn after a carriage return
        bars = [
            "model.safetensors:   0%|          | 0.00/4.60G [00:00<?, ?B/s]",
            "model.safetensors:  21%|██▏       | 975M/4.60G [00:05<00:18, 195MB/s]",
            "model.safetensors:  45%|████▌     | 2.07G/4.60G [00:10<00:12, 201MB/s]",
        ]
        (path / "train.log").write_text("[starting] loading model\n" + "\r".join(bars))
        app = make_app(start="train")
        async with app.run_test(size=(80, 24)) as pilot:
            app.attach_run(RunDirectory(path))
            shown = await wait_for_text(app, pilot, "#run-progress", "Downloading model.safetensors")
            assert "45% 2.1 GB of 4.6 GB  201.0 MB/s  ETA 0:12" in shown
            log = app.screen.query_one(LogView)
            await wait_until(pilot, lambda: log.line_count > 0, "the log on screen")
            assert log.lines == ["[starting] loading model"]  # the bars are not in the log
            # training begins: the step bar is back
            with open(path / "train.log", "a") as handle:
                handle.write("\r" + bars[-1].replace("45%", "100%") + "\n[running] training\n")
            status.update(state="running", phase="training", step=1, max_steps=30)
            (path / "status.json").write_text(json.dumps(status))
            await wait_for_text(app, pilot, "#run-progress", "step 1/30")
            assert "Downloading" not in text_of(app.screen.query_one("#run-progress"))
            await wait_until(pilot, lambda: log.lines[-1] == "[running] training", "the log goes on")
            assert not any("safetensors" in line for line in log.lines)
    finally:
        trainer.kill()
        trainer.wait()
