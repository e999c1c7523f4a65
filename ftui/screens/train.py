"""Step 6: train. A settings form with the advice's defaults, the estimated memory and time for them, the
script they amount to, and start; then the live run, with stop (graceful), kill and resume.

The form only parses what was typed; RunConfig checks it (the same rules as `ftui train`), the estimator
sizes it, ftui.core.runs starts and steers the detached training process.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import ContentSwitcher, Input, Label, Static

from ftui.core.fit import FIT_WORDS
from ftui.core.plan import METHODS, Plan, TrainingSettings
from ftui.core.runs.progress import clock
from ftui.screens.base import PlanEstimate, StepScreen
from ftui.screens.train_form import FIELDS, YES_NO, FormError, form_values, help_for, read_form
from ftui.widgets.choice import Choice
from ftui.widgets.key_bar import KeyBar
from ftui.widgets.log_view import LogView
from ftui.widgets.path_input import PathInput
from ftui.widgets.plain_text import one_line, plain
from ftui.widgets.run_view import RunView
from ftui.widgets.text_field import TextField

METHOD_LABELS = {"qlora": "QLoRA (4-bit)", "lora": "LoRA (16-bit)", "full": "Full fine-tune"}
KILL_CONFIRM_S = 3.0


# Vision runs: which parts get adapters (Unsloth's finetune_* flags), as two one-line choices.
LAYER_CHOICES = (
    ("vision + language", (True, True)),
    ("language only", (False, True)),
    ("vision only", (True, False)),
)
MODULE_CHOICES = (
    ("attention + MLP", (True, True)),
    ("attention only", (True, False)),
    ("MLP only", (False, True)),
)


def is_vision_plan(plan: Plan) -> bool:
    return plan.use_case == "vision" or (plan.dataset is not None and plan.dataset.modality == "vision")


def estimate_text(estimate: PlanEstimate, plan: Plan) -> Text:
    text = Text(end="")
    if estimate.gib is None:
        text.append(estimate.problem or "No estimate yet.", "dim")
        return text
    text.append("Memory ", "bold")
    text.append(f"about {estimate.gib:.1f} GiB at its peak")
    if plan.gpu is not None and estimate.fit is not None:
        words = FIT_WORDS[estimate.fit]
        if plan.gpu.count > 1:  # the per-GPU peak of the way ftui uses the cards (ftui.core.sharding)
            text.append(
                f" per GPU on {plan.gpu.count} x {plan.gpu.name} ({plan.gpu.vram_gib:.0f} GiB each): "
            )
        else:
            text.append(f" on the {plan.gpu.name} ({plan.gpu.vram_gib:.0f} GiB): ")
        text.append(words.phrase, words.colour)
    else:
        text.append(" (choose a GPU in step 2 to check the fit)", "dim")
    text.append("\n")
    text.append("Time   ", "bold")
    if estimate.seconds is not None:
        text.append(f"about {clock(estimate.seconds)} for {estimate.steps:,} steps")
        if estimate.tokens_per_second:
            text.append(f", {estimate.tokens_per_second:,.0f} tokens/s")
    elif plan.dataset is None:
        text.append("needs the data (step 4)", "dim")
    else:
        text.append("no speed figures for this card", "dim")
    if estimate.batch:
        text.append("\n")
        text.append("Batch  ", "bold")
        text.append(estimate.batch)
    return text


def script_path(config: Any) -> str:
    """Where a script is saved unless the user says otherwise: train-<model>.py in the current folder."""
    name = (config.name or config.model).rstrip("/").split("/")[-1].lower()
    slug = re.sub(r"[^a-z0-9.]+", "-", name).strip("-.")[:40] or "run"
    return str(Path.cwd() / f"train-{slug}.py")


def save_script(script: str, where: str) -> str:
    """Write the script to `where` (a file, or a folder to put train.py in); the path written, or
    UserError with what to do."""
    from ftui.core.errors import UserError

    path = Path(where.strip()).expanduser()
    if not where.strip():
        raise UserError("Give a file name for the script, e.g. train.py.")
    if path.is_dir():
        path = path / "train.py"
    try:
        path.write_text(script, encoding="utf-8")
    except OSError as error:
        raise UserError(
            f"Cannot write {path} ({error.strerror or error}); choose a folder you can write to."
        ) from None
    return str(path)


class ScriptScreen(ModalScreen[None]):
    """The run as a standalone Unsloth script, to read, copy or save (`s`)."""

    BINDINGS = [
        Binding("s", "save", "Save to a file"),
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, script: str, default_path: str) -> None:
        super().__init__()
        self.script = script
        self.default_path = default_path

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="script-body"):
            yield Static(plain(self.script), id="script")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#script-body").focus()

    def action_save(self) -> None:
        from ftui.screens.dialogs import AskText

        self.app.push_screen(
            AskText("Save the script as (Enter saves, Esc cancels):", self.default_path), callback=self._save
        )

    def _save(self, where: str | None) -> None:
        from ftui.core.errors import UserError

        if where is None:
            return
        try:
            written = save_script(self.script, where)
        except UserError as error:
            self.notify(str(error), severity="error")
            return
        self.notify(f"Saved the script as {written}; run it with python in an environment with Unsloth.")


def why_not(action: str, run_id: str, state: str | None) -> str:
    """Why stop, kill or resume does nothing for a run in this state, and what would."""
    if state is None:
        return f"Run {run_id} is still being read; try again in a moment."
    if action == "resume":
        if state == "completed":
            return f"Run {run_id} completed, so there is nothing to resume; e starts a new run from its settings."
        return f"Run {run_id} is {state}, so there is nothing to resume yet; x stops it gracefully."
    after = {
        "completed": "it completed; e starts a new run from its settings",
        "stopped": "it was stopped; r resumes it",
        "failed": "it failed; r resumes it from its last checkpoint",
        "oom": "it ran out of GPU memory; e starts a new run with smaller settings",
    }.get(state, f"it is {state}")
    return f"Run {run_id} is not running ({after}), so there is nothing to {action}."


class TrainScreen(StepScreen):
    STEP = "train"
    AUTO_FOCUS = "#method"
    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("v", "show_script", "Script"),
        Binding("w", "export_script", "Export script"),
        Binding("x", "stop", "Stop"),
        Binding("k", "kill", "Kill"),
        Binding("r", "resume", "Resume"),
        Binding("e", "edit", "New run"),
    ]

    def compose_step(self) -> ComposeResult:
        with ContentSwitcher(initial="train-form", id="body"):
            # Scrolls, so that the focused field is always in view on a short terminal.
            with VerticalScroll(id="train-form"):
                yield Static(id="train-plan", classes="plan-line")
                with Grid(id="form-grid"):
                    yield Label("Method")
                    yield Choice(
                        [(METHOD_LABELS[m], m) for m in METHODS], self.plan.settings.method, id="method"
                    )
                    yield Label("Tune", classes="vision-part")
                    yield Choice(LAYER_CHOICES, self._layers(), id="vision-layers", classes="vision-part")
                    yield Label("Modules", classes="vision-part")
                    yield Choice(MODULE_CHOICES, self._modules(), id="vision-modules", classes="vision-part")
                    yield from self._fields(advanced=False)
                yield Static("Advanced", classes="form-section")
                with Grid(id="form-advanced", classes="form-grid"):
                    yield from self._fields(advanced=True)
                yield Static(id="field-help", classes="hint")
                yield Static(id="estimate")
                yield Static(id="form-status", classes="hint")
            yield RunView(nvml=self.ftui.nvml, gauge_interval=self.ftui.gauge_interval, id="run-view")

    def _layers(self) -> tuple[bool, bool]:
        s = self.plan.settings
        return (s.finetune_vision_layers, s.finetune_language_layers)

    def _modules(self) -> tuple[bool, bool]:
        s = self.plan.settings
        return (s.finetune_attention_modules, s.finetune_mlp_modules)

    def main_widget(self) -> str | None:
        return "#method" if self.query_one(ContentSwitcher).current == "train-form" else "#run-log"

    def _fields(self, *, advanced: bool) -> ComposeResult:
        for field in FIELDS:
            if field.advanced != advanced:
                continue
            yield Label(field.label)
            if field.kind == "yes_no":
                yield Choice(YES_NO, "no", id=f"field-{field.key}")
            elif field.kind == "path":
                yield PathInput(placeholder=field.placeholder, id=f"field-{field.key}")
            else:
                kind = {"int": "integer", "float": "number"}.get(field.kind, "text")
                yield TextField(placeholder=field.placeholder, type=kind, id=f"field-{field.key}")

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The focused setting's line of help, under the form."""
        self.query_one("#field-help", Static).update(Text(help_for(event.widget.id), "dim"))

    def on_mount(self) -> None:
        for field_input in self.query(Input):
            field_input.cursor_blink = False
        self.extras: dict[str, str | None] = {"template": None, "name": None, "python": None}
        self._kill_armed_at = 0.0
        self._form_settings: TrainingSettings | None = None  # what the form shows
        self._fill_form()

    # --- the form ---------------------------------------------------------------------------------

    def _fill_form(self) -> None:
        """Show the Plan's settings, unless the form already does: what is being typed is never reset."""
        if self._form_settings == self.plan.settings:
            return
        values = form_values(self.plan.settings, self.extras)
        for key, value in values.items():
            widget = self.query_one(f"#field-{key}")
            if isinstance(widget, Choice):
                widget.value = value
            elif isinstance(widget, Input) and widget.value != value:
                widget.value = value
        self.query_one("#method", Choice).value = self.plan.settings.method
        self.query_one("#vision-layers", Choice).value = self._layers()
        self.query_one("#vision-modules", Choice).value = self._modules()
        self._form_settings = copy.deepcopy(self.plan.settings)

    def show_plan(self) -> None:
        hardware = self.ftui.hardware
        if hardware is not None and hardware.gpus:
            self.query_one(RunView).show_gauge()
        for part in self.query(".vision-part"):
            part.display = is_vision_plan(self.plan)
        if self.query_one(ContentSwitcher).current == "train-form":
            self._fill_form()
        self._show_plan_line()
        self.refresh_estimate()

    def _show_plan_line(self) -> None:
        plan = self.plan
        text = Text(end="")
        text.append("Train ", "bold")
        text.append(
            one_line(plan.model) if plan.model else "no model yet (step 5)",
            "bold" if plan.model else "yellow",
        )
        text.append(" on ")
        if plan.dataset:
            text.append(one_line(plan.dataset.source), "bold")
            text.append(f" ({plan.dataset.rows:,} rows, {plan.dataset.format})")
        else:
            text.append("no data yet (step 4)", "yellow")
        self.query_one("#train-plan", Static).update(text)

    def _read(self) -> tuple[TrainingSettings, dict[str, str | None]]:
        values = {field.key: self._field_value(field.key) for field in FIELDS}
        method = str(self.query_one("#method", Choice).value)
        settings, extras = read_form(values, method, self.plan.settings)
        vision, language = self.query_one("#vision-layers", Choice).value
        attention, mlp = self.query_one("#vision-modules", Choice).value
        settings = dataclasses.replace(
            settings,
            finetune_vision_layers=vision,
            finetune_language_layers=language,
            finetune_attention_modules=attention,
            finetune_mlp_modules=mlp,
        )
        return settings, extras

    def _field_value(self, key: str) -> str:
        widget = self.query_one(f"#field-{key}")
        return str(widget.value) if isinstance(widget, Input | Choice) else ""

    @on(Input.Changed)
    @on(Choice.Changed)
    def _edited(self) -> None:
        try:
            settings, extras = self._read()
        except FormError as error:
            self._status(Text(str(error), "yellow"))
            self._form_error = True
            return
        self.plan.settings, self.extras = settings, extras
        self._form_settings = copy.deepcopy(settings)
        if self._form_error:  # the field that did not parse does now: its sentence goes
            self._status(Text(""))
            self._form_error = False
        self.refresh_estimate()

    def on_estimate_ready(self, estimate: PlanEstimate) -> None:
        self.query_one("#estimate", Static).update(estimate_text(estimate, self.plan))
        self.query_one(RunView).estimate_gib = estimate.gib

    _form_error = False  # the status line shows a field that does not parse

    def _status(self, text: Text) -> None:
        self.query_one("#form-status", Static).update(text)

    def _config(self):  # -> RunConfig
        """The run the form describes, checked and resolved by the core (UserError says what is wrong)."""
        from ftui.core.run_config import RunConfig, resolve

        settings, extras = self._read()
        self.plan.settings, self.extras = settings, extras
        config = RunConfig.from_plan(
            self.plan, template=extras.get("template"), python=extras.get("python"), name=extras.get("name")
        )
        return resolve(config)

    # --- actions ----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        views, switchers = self.query(RunView), self.query(ContentSwitcher)
        if not views or not switchers:  # asked before the screen is composed
            return True
        form = switchers.first().current == "train-form"
        state = views.first().state
        # Keys of the other mode are hidden (False); keys of this mode that the run's state rules out
        # are shown dimmed (None), so that the user sees they exist.
        if action in ("start", "show_script", "export_script"):
            return form
        if action == "edit":
            return not form
        if action in ("stop", "kill"):
            return None if form is False and state not in ("starting", "running") else not form
        if action == "resume":
            return None if form is False and state not in ("failed", "stopped", "oom") else not form
        return True

    def action_show_script(self) -> None:
        from ftui.core.errors import UserError
        from ftui.core.script import generate_script

        try:
            config = self._config()
            script = generate_script(config)
        except (FormError, UserError) as error:
            self._status(Text(str(error), "red"))
            return
        self.app.push_screen(ScriptScreen(script, script_path(config)))

    def action_export_script(self) -> None:
        """The script of the form's settings, saved to a file (v shows it first)."""
        from ftui.core.errors import UserError
        from ftui.core.script import generate_script
        from ftui.screens.dialogs import AskText

        try:
            config = self._config()
            script = generate_script(config)
        except (FormError, UserError) as error:
            self._status(Text(str(error), "red"))
            return

        def save(where: str | None) -> None:
            if where is None:
                return
            try:
                written = save_script(script, where)
            except UserError as error:
                self._status(Text(str(error), "red"))
                return
            self._status(Text(f"Saved the script as {written}.", "green"))

        self.app.push_screen(
            AskText("Save the script as (Enter saves, Esc cancels):", script_path(config)), save
        )

    def action_start(self) -> None:
        """Check the form, then run the preflight; its sheet decides whether the run starts."""
        from ftui.core.errors import UserError

        try:
            config = self._config()
        except (FormError, UserError) as error:
            self._status(Text(str(error), "red"))
            return
        self._status(Text("Checking the machine, the model and every row before the start…", "dim"))
        host = self.ftui
        self._preflight(config, host.hardware, host.nvml, self.plan.gpu, host.runs_dir)

    @work(thread=True, exclusive=True, group="run-control", exit_on_error=False)
    def _preflight(self, config: Any, hardware: Any, nvml: Any, plan_gpu: Any, runs_dir: Any) -> None:
        from ftui.core.preflight import preflight

        result = preflight(config, hardware=hardware, nvml=nvml, plan_gpu=plan_gpu, runs_dir=runs_dir)
        self.app.call_from_thread(self._checked, config, result)

    def _checked(self, config: Any, result: Any) -> None:
        from ftui.screens.preflight_sheet import PreflightSheet

        self._status(Text(""))
        self.app.push_screen(PreflightSheet(result), callback=lambda go: self._answered(config, go))

    def _answered(self, config: Any, go: Any) -> None:
        if go is None:
            self._status(Text("Not started: change what the checks asked for, then s again.", "dim"))
            self.query_one("#method", Choice).focus()
            return
        if go.skip_bad_rows:
            config = dataclasses.replace(
                config, settings=dataclasses.replace(config.settings, skip_bad_rows=True)
            )
        self._status(Text("Starting the training process…", "dim"))
        self._start(config, self.ftui.runs_dir)

    @work(thread=True, exclusive=True, group="run-control", exit_on_error=False)
    def _start(self, config, runs_dir) -> None:
        from ftui.core.errors import UserError
        from ftui.core.runs import create_run, start

        try:
            run = create_run(config, runs_dir)
            process = start(run)
        except UserError as error:
            self.app.call_from_thread(self._status, Text(str(error), "red"))
            return
        self.app.call_from_thread(self._started, run, process)

    @dataclass
    class RunStarted(Message):
        """This step started a training run (the app watches it, to announce its end)."""

        run: Any  # ftui.core.runs.RunDirectory

    def _started(self, run: Any, process: Any) -> None:
        self.post_message(self.RunStarted(run))
        self.attach(run, process)

    def on_ftui_app_run_attached(self, message: Any) -> None:
        """FtuiApp.RunAttached (handled by name: screens do not import the app): a run picked on the runs
        step, or by the caller of `FtuiApp.attach_run`."""
        self.attach(message.run, message.process)

    def attach(self, run: Any, process: Any = None) -> None:
        """Show the live view of `run` (a RunDirectory: one just started, or any run picked elsewhere)."""
        self.query_one(ContentSwitcher).current = "run-view"
        self._status(Text(""))
        view = self.query_one(RunView)
        view.attach(run, process)
        view.query_one(
            LogView
        ).focus()  # not a field of the hidden form: keys act on the run; arrows scroll the log
        self.refresh_bindings()

    def action_edit(self) -> None:
        """A new run: the form, filled with the settings of the run on screen (the plan it was run with)."""
        run = self.query_one(RunView).run
        if run is not None:
            self.new_run_from(run)
            return
        self._show_form()

    def _show_form(self) -> None:
        self.query_one(ContentSwitcher).current = "train-form"
        self._fill_form()
        self.query_one("#method", Choice).focus()
        self.refresh_bindings()

    def on_ftui_app_run_reused(self, message: Any) -> None:
        """FtuiApp.RunReused (by name: screens do not import the app): e on the runs step."""
        self.new_run_from(message.run)

    def new_run_from(self, run: Any) -> None:
        """Fill the form with a run's config.toml: its model, data, settings, template and Python."""
        self._show_form()
        self._status(Text(f"Reading the settings of {run.run_id}…", "dim"))
        self._read_run_plan(run)

    @work(thread=True, exclusive=True, group="run-plan", exit_on_error=False)
    def _read_run_plan(self, run: Any) -> None:
        from ftui.core.data import inspect
        from ftui.core.errors import UserError
        from ftui.core.plan import DatasetSummary

        try:
            config = run.config()
        except UserError as error:
            self.app.call_from_thread(self._status, Text(str(error), "red"))
            return
        try:  # the data's summary, as the data step would show it (rows, format, tokens)
            dataset = inspect(config.data, format=config.format, mapping=config.mapping or None).summary()
        except UserError:
            dataset = DatasetSummary(config.data, rows=0, format=config.format or "unknown")
        self.app.call_from_thread(self._fill_from_run, run, config, dataset)

    def _fill_from_run(self, run: Any, config: Any, dataset: Any) -> None:
        self.plan.model, self.plan.repo = config.model, config.repo
        self.plan.settings = copy.deepcopy(config.settings)
        self.plan.dataset = dataset
        self.extras = {"template": config.template, "name": None, "python": config.python}
        self._form_settings = None  # the form shows the run's settings, not what it showed
        self._fill_form()
        self._show_plan_line()
        self.refresh_estimate()
        self._status(
            Text(f"The settings of {run.run_id}; change what you like, s starts a new run.", "green")
        )

    def on_key(self, event: events.Key) -> None:
        # Stop, kill and resume are dimmed when the run's state rules them out: pressed anyway, say why.
        active = self.active_bindings.get(event.key)
        view = self.query_one(RunView)
        if active is None or active.enabled or view.run is None:
            return
        if active.binding.action in ("stop", "kill", "resume"):
            event.stop()
            self.notify(why_not(active.binding.action, view.run.run_id, view.state), severity="warning")

    @on(RunView.StateChanged)
    def _state_changed(self) -> None:
        self.refresh_bindings()

    def action_stop(self) -> None:
        self._control("stop")

    def action_kill(self) -> None:
        now = time.monotonic()
        if now - self._kill_armed_at > KILL_CONFIRM_S:
            self._kill_armed_at = now
            self.notify(
                "Press k again to kill the run at once (checkpoints stay; x stops it gracefully).",
                timeout=KILL_CONFIRM_S,
            )
            return
        self._kill_armed_at = 0.0
        self._control("kill")

    def action_resume(self) -> None:
        self._control("resume")

    def _control(self, what: str) -> None:
        """Stop, kill or resume the attached run: the run is read here, on the event loop; the core call,
        which signals processes and writes the status, runs in a worker."""
        run = self.query_one(RunView).run
        if run is not None:
            self._run_control(what, run)

    @work(thread=True, exclusive=True, group="run-control", exit_on_error=False)
    def _run_control(self, what: str, run: Any) -> None:
        from ftui.core import runs
        from ftui.core.errors import UserError

        process = None
        try:
            if what == "stop":
                runs.stop(run)
                message = "Asked the run to stop: it saves a checkpoint and the adapter, then ends."
            elif what == "kill":
                runs.kill(run)
                message = "Killed the run; checkpoints already written stay."
            else:
                process = runs.resume(run)
                message = "Resuming from the last checkpoint."
        except UserError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error")
            return
        self.app.call_from_thread(self._controlled, run, message, process)

    def _controlled(self, run: Any, message: str, process: Any) -> None:
        self.notify(message)
        view = self.query_one(RunView)
        if view.run is run:  # still the run on screen
            if process is not None:
                view.set_process(process)
            view.call_later(view.poll)
