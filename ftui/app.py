"""The Textual app: screens, global bindings, theme. No domain logic here (it lives in ftui.core).

One Plan (ftui.core.plan) flows through the step screens; each screen reads it when shown and edits it.
Screens are imported the first time they are shown, so start-up pays for the first screen only, and
nothing here imports torch, transformers, datasets, unsloth or plotext.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from ftui.core.plan import Plan
from ftui.screens import STEP_NAMES, STEPS, Step, step_named

if TYPE_CHECKING:
    from ftui.core.hardware import Hardware
    from ftui.screens.runs import RunsScreen

STEP_KEYS = Binding.Group("Step", compact=True)
WATCH_S = 5.0  # how often the runs this app knows are live are checked for their end (one status read each)


def _screen_factory(step: Step) -> Callable[[], Screen]:
    def make() -> Screen:
        return getattr(importlib.import_module(step.module), step.cls)()

    return make


class FtuiApp(App):
    """The step screens talk to the app through messages (RunsScreen.RunChosen) and read what they
    need through ftui.screens.base.FtuiHost; the app tells a screen through the messages below, so
    neither imports the other."""

    TITLE = "ftui"
    SUB_TITLE = "which model should I fine-tune?"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere find it too
    SCREENS = {step.name: _screen_factory(step) for step in STEPS}
    # Narrow is the 80x24 layout; wider and taller terminals get side-by-side panes and taller charts.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]
    BINDINGS = [
        *(Binding(step.key, f"app.goto('{step.name}')", step.title, group=STEP_KEYS) for step in STEPS),
        Binding("n", "app.next_step", "Next"),
        Binding("b", "app.previous_step", "Back"),
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
        Binding("f1", "app.help", "Help", show=False),
        Binding("escape", "app.leave_field", "Leave field"),
    ]

    class PlanChanged(Message, bubble=False):
        """The Plan changed under the current step (the hardware probe came back): show it again."""

    @dataclass
    class RunAttached(Message, bubble=False):
        """A run was chosen to watch (on the runs step, or by a caller): the train step shows it live."""

        run: Any  # ftui.core.runs.RunDirectory
        process: Any = None  # the Popen, when this ftui started it

    @dataclass
    class ActionAsked(Message, bubble=False):
        """The command palette asked for an action of a step other than the one shown: run it there."""

        action: str

    @dataclass
    class RunReused(Message, bubble=False):
        """A run's settings were chosen for a new run: the train step's form takes them."""

        run: Any  # ftui.core.runs.RunDirectory

    def __init__(
        self,
        plan: Plan | None = None,
        *,
        hardware: Hardware | None = None,
        probe_hardware: bool = True,
        nvml: Any = None,
        gauge_interval: float = 1.0,
        runs_dir: str | Path | None = None,
        start: str = "use_case",
        watch_interval: float = WATCH_S,
    ) -> None:
        """`hardware` is a probe result to use as is (tests give a fixed one); with `probe_hardware` the
        app probes this machine in a worker once the first screen is up. `nvml` is the NVML source for the
        probe and the gauges (pynvml by default; tests pass the stand-in from tests/fakes)."""
        super().__init__()
        self.animation_level = "none"  # nothing slides or fades over SSH
        self.plan = plan or Plan()
        self.hardware = hardware
        self.probe_hardware = probe_hardware and hardware is None
        self.nvml = nvml
        self.gauge_interval = gauge_interval
        from ftui.core.paths import runs_dir as default_runs_dir

        self.runs_dir = Path(runs_dir) if runs_dir else default_runs_dir()
        self.start = start
        self.watch_interval = watch_interval
        self.watched: dict[Path, str] = {}  # live runs to announce the end of: folder -> run id
        self._checking = False

    def on_mount(self) -> None:
        if self.probe_hardware:
            self.call_after_refresh(self.probe)  # after the first frame: start-up waits for nothing
        elif self.hardware is not None:
            self._adopt_hardware(self.hardware)
        self.call_after_refresh(self._find_live_runs)
        self.set_interval(self.watch_interval, self._check_watched)

    # Runs going on without a word: say which are live at start-up, announce each one's end ---------

    async def _find_live_runs(self) -> None:
        from ftui.core.runs.manage import live_runs, live_words

        live = await asyncio.to_thread(live_runs, self.runs_dir)
        for summary in live:
            self.watched[Path(summary.path)] = summary.run_id
        if live:
            self.notify(
                f"{live_words(live)} 7 lists the runs; Enter on one follows it.", title="Training", timeout=12
            )

    def watch_run(self, run: Any) -> None:
        """Announce the end of this run (a RunDirectory), with a notice and the terminal bell."""
        self.watched[Path(run.path)] = run.run_id

    async def _check_watched(self) -> None:
        from ftui.core.runs.manage import ended_runs, ended_words

        if not self.watched or self._checking:
            return
        self._checking = True
        try:
            ended = await asyncio.to_thread(ended_runs, list(self.watched))
        finally:
            self._checking = False
        for summary in ended:
            if self.watched.pop(Path(summary.path), None) is None:
                continue
            severity: Literal["information", "error"] = (
                "information" if summary.state in ("completed", "stopped") else "error"
            )
            self.notify(ended_words(summary), title="Run ended", severity=severity, timeout=20)
            self.bell()  # tmux marks the window, so an ended run is seen from another one

    def on_train_screen_run_started(self, message: Any) -> None:
        """TrainScreen.RunStarted (by name: the app imports no screen): watch it for its end."""
        self.watch_run(message.run)

    @work(thread=True, exclusive=True, group="probe", exit_on_error=False)
    def probe(self) -> None:
        """Read this machine's GPUs, CPU, RAM and disks (NVML and psutil block: a worker thread)."""
        from ftui.core.hardware import probe

        hardware = probe(self.nvml, runs_dir=self.runs_dir)
        self.call_from_thread(self._adopt_hardware, hardware)

    def _adopt_hardware(self, hardware: Hardware) -> None:
        self.hardware = hardware
        if self.plan.gpu is None or self.plan.gpu.detected:
            # A detected card is the plan's card, as many as are here (or as many as the user chose since);
            # a rented one stays.
            choice = hardware.gpu_choice(0)
            count = self.plan.gpu.count if self.plan.gpu is not None else len(hardware.gpus)
            self.plan.gpu = None if choice is None else dataclasses.replace(choice, count=max(1, count))
        if self.screen.is_mounted:  # (a screen still composing shows the Plan when it is resumed)
            self.screen.post_message(self.PlanChanged())

    def get_default_screen(self) -> Screen:
        # The first step is the app's bottom screen (one screen to build at start-up, not two);
        # installed by name, it is kept when switched away from, like the others.
        return self.get_screen(self.start)

    # Navigation -------------------------------------------------------------------------------------

    @property
    def current_step(self) -> str | None:
        for name in STEP_NAMES:
            if self.is_screen_installed(name) and self.get_screen(name) is self.screen:
                return name
        return None

    def show_step(self, name: str) -> None:
        """The start screen stays at the bottom of the stack; any other step is the one screen above it."""
        if name not in STEP_NAMES or self.current_step == name:
            return
        if name == self.start:
            while len(self.screen_stack) > 1:
                self.pop_screen()
        elif len(self.screen_stack) == 1:
            self.push_screen(name)
        else:
            self.switch_screen(name)

    def attach_run(self, run: Any, process: Any = None) -> None:
        """Open the live view of a run (a RunDirectory) on the train step."""
        self.show_step("train")
        self.get_screen("train").post_message(self.RunAttached(run, process))

    def on_runs_screen_run_reused(self, message: RunsScreen.RunReused) -> None:
        """e on the runs step: the train step's form takes that run's settings."""
        self.show_step("train")
        self.get_screen("train").post_message(self.RunReused(message.run))

    def on_runs_screen_run_chosen(self, message: RunsScreen.RunChosen) -> None:
        """Enter on the runs step: re-attach to that run on the train step."""
        self.attach_run(message.run)

    def on_run_actions_try_requested(self, message: Any) -> None:
        """`t` on the runs step (ftui.screens.run_actions): the try step, told which run by a message."""
        self.show_step("try")
        self.get_screen("try").post_message(type(message)(message.run_path))

    def action_goto(self, name: str) -> None:
        self.show_step(name)

    def action_next_step(self) -> None:
        here = self.current_step
        if here is not None and here != STEP_NAMES[-1]:
            self.show_step(STEP_NAMES[STEP_NAMES.index(here) + 1])

    def action_previous_step(self) -> None:
        here = self.current_step
        if here is not None and here != STEP_NAMES[0]:
            self.show_step(STEP_NAMES[STEP_NAMES.index(here) - 1])

    def action_leave_field(self) -> None:
        """Escape from a text field, so that the single-letter keys work again."""
        self.screen.set_focus(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave_field":
            from textual.widgets import Input

            return isinstance(self.focused, Input)  # shown only while a text field has the keys
        here = self.current_step
        if action == "next_step" and here == STEP_NAMES[-1]:
            return None  # shown dimmed: there is no next step
        if action == "previous_step" and here == STEP_NAMES[0]:
            return None
        return True

    # Help: the key map of the step shown ------------------------------------------------------------

    def action_help(self) -> None:
        from ftui.screens.help import HelpScreen, KeyLine

        here: list[KeyLine] = []
        everywhere: list[KeyLine] = []
        steps: list[str] = []
        seen: set[tuple[str, str]] = set()
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.system or (key, binding.action) in seen:
                continue
            seen.add((key, binding.action))
            if binding.group is STEP_KEYS:
                steps.append(f"{key} {binding.description}")
                continue
            line = KeyLine(self.get_key_display(binding), binding.description, active.enabled)
            (everywhere if active.node is self else here).append(line)
        if steps:
            everywhere.insert(0, KeyLine(f"1-{len(STEPS)}", "Go to a step: " + ", ".join(steps)))
        step = self.current_step
        title = f"Keys of this step ({step_named(step).title})" if step else "Keys here"
        self.push_screen(HelpScreen(title, here, everywhere))

    # Command palette: every key binding of every step is also a command ----------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description or binding.action in seen or binding.system:
                continue
            if binding.action == "app.quit":
                continue  # Textual's own commands below include Quit
            seen.add(binding.action)
            title = binding.description
            if binding.group is STEP_KEYS:
                title = f"Go to {binding.description}"
            key = self.get_key_display(binding)
            yield SystemCommand(title, f"key: {key}", partial(self._run_binding, active.node, binding.action))
        yield from self._other_steps_commands()
        yield from super().get_system_commands(screen)

    def _other_steps_commands(self) -> Iterable[SystemCommand]:
        """The keys of every other step, as "Train: Start": the palette finds any action from anywhere.
        (The step modules are imported here, when the palette opens, not at start-up.)"""
        here = self.current_step
        for step in STEPS:
            if step.name == here:
                continue
            screen_class = getattr(importlib.import_module(step.module), step.cls)
            for binding in Binding.make_bindings(screen_class.BINDINGS):
                if not binding.description:
                    continue
                yield SystemCommand(
                    f"{step.title}: {binding.description}",
                    f"step {step.key}, then key {self.get_key_display(binding)}",
                    partial(self._run_on_step, step.name, binding.action),
                )

    async def _run_binding(self, node: Any, action: str) -> None:
        await self.run_action(action, node)

    def _run_on_step(self, name: str, action: str) -> None:
        self.show_step(name)
        self.get_screen(name).post_message(self.ActionAsked(action))


def run_app(runs_dir: str | Path | None = None) -> int:
    app = FtuiApp(runs_dir=runs_dir)
    app.run(mouse=False)
    goodbye = still_training(app.runs_dir)
    if goodbye:
        print(goodbye)
    return 0


def still_training(runs_dir: Path) -> str:
    """What quitting leaves behind: the runs that go on, and how to come back to them (short lines: the
    terminal it is printed in may be 80 columns)."""
    from ftui.core.runs.manage import live_runs, live_words

    live = live_runs(runs_dir)
    if not live:
        return ""
    first = live[0].run_id
    return "\n".join(
        [
            live_words(live),
            "It goes on without ftui. To come back:",
            "  ftui                             the runs step (7) lists it; Enter follows it",
            f"  ftui runs {first} --follow",
            f"  ftui stop {first}",
        ]
    )
