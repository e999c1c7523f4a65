"""Step 8: try a fine-tuned model. Type a prompt; the run's answer streams beside its base model's (and
beside a second run's, when one is chosen with `c`), the prompt put in the run's chat template, greedy
unless the temperature is raised (`+`/`-`). Each prompt is asked fresh, without the earlier turns, so the
panes compare like with like.

A step of its own rather than a panel of the runs step: two or three answers side by side need the
screen's width and most of its height at 80x24, and a prompt field takes the letter keys while it has
the focus (the runs step's keys stay single letters). `t` on the runs step opens this step with that run.

The models live in the exporter's chat process (ftui.core.chat, `python -m ftui.exporter.chat`), one per
run: the app never imports torch. Before a process starts, its memory is estimated and a model that does
not fit the free GPU memory (or, without a GPU, the RAM) is refused with the estimate. A thread per
process reads its JSON events and posts them here; the panes are drawn on the event loop only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Static

from ftui.core.exports import gib
from ftui.screens.base import StepScreen
from ftui.screens.run_actions import RunActions
from ftui.screens.run_picker import NONE, RunPicker, finished_runs
from ftui.widgets.answer_pane import AnswerPane
from ftui.widgets.plain_text import one_line

MAX_NEW_TOKENS = 256
KV_TOKENS = 2048  # the prompt and answer the memory estimate makes room for
TEMPERATURE_STEP = 0.1
MAX_TEMPERATURE = 2.0
TEMPERATURE_KEYS = Binding.Group("Temperature", compact=True)
# What each slot's process answers, and the pane each answer goes to.
SLOT_MODELS = {"main": ("tuned", "base"), "second": ("tuned",)}
PANE_OF = {("main", "tuned"): "tuned", ("main", "base"): "base", ("second", "tuned"): "second"}


@dataclass
class Slot:
    """One run's model process and where it stands."""

    name: str  # main | second
    run_path: Path | None = None
    run: Any = None  # ftui.core.exports.FinishedRun, once read
    refusal: str = ""  # why this run cannot be tried (not finished, no room): one sentence
    state: str = "idle"  # idle | queued | planning | loading | ready | answering | ended
    generation: int = 0  # bumps on every change of run: news of an older process is ignored
    plan: Any = None  # ftui.core.chat.ChatPlan
    process: Any = None  # ftui.core.chat.ChatProcess
    log: IO[bytes] | None = None
    pending: tuple[str, float] | None = None  # a prompt (and temperature) waiting for the model to load
    waiting: set[str] = field(default_factory=set)  # models whose answer is still coming

    @property
    def live(self) -> bool:
        return self.run_path is not None and not self.refusal


def read_events(screen: TryScreen, slot: str, generation: int, process: Any) -> None:
    """(In a thread of its own) the model process's events, posted to the screen until it ends. Token
    events are folded into the answer so far, so that a burst of them costs the screen one draw."""
    so_far: dict[str, str] = {}
    for event in process.events():
        kind = event.get("event")
        if kind == "token":
            model = str(event.get("model"))
            so_far[model] = so_far.get(model, "") + str(event.get("text", ""))
            screen.post_message(TryScreen.AnswerGrew(slot, generation, model, so_far[model]))
            continue
        if kind == "start":
            so_far[str(event.get("model"))] = ""
        screen.post_message(TryScreen.ModelEvent(slot, generation, event))
    screen.post_message(TryScreen.ProcessEnded(slot, generation, process.process.wait()))


class TryScreen(StepScreen):
    STEP = "try"
    AUTO_FOCUS = "#prompt"
    CSS_PATH = Path(__file__).with_name("try_step.tcss")
    BINDINGS = [
        Binding("r", "choose_run", "Run"),
        Binding("c", "choose_second", "Beside"),
        Binding("minus", "temperature(-1)", "Cooler", group=TEMPERATURE_KEYS),
        Binding("plus,equals_sign", "temperature(1)", "Warmer", group=TEMPERATURE_KEYS),
        Binding("p", "focus_prompt", "Prompt"),
    ]

    @dataclass
    class RunRead(Message):
        slot: str
        generation: int
        run: Any
        refusal: str

    @dataclass
    class Planned(Message):
        """The memory check passed and the process started (or one sentence says why not)."""

        slot: str
        generation: int
        plan: Any
        process: Any
        log: Any
        refusal: str

    @dataclass
    class ModelEvent(Message):
        slot: str
        generation: int
        event: dict[str, Any]

    @dataclass
    class AnswerGrew(Message):
        """An answer so far; a newer one for the same answer replaces it in the queue."""

        slot: str
        generation: int
        model: str
        text: str

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, TryScreen.AnswerGrew) and (
                message.slot,
                message.generation,
                message.model,
            ) == (self.slot, self.generation, self.model)

    @dataclass
    class ProcessEnded(Message):
        slot: str
        generation: int
        returncode: int

    def compose_step(self) -> ComposeResult:
        with Vertical(id="body"):
            yield Static(id="try-head")
            yield Static(id="try-status")
            with Horizontal(id="answers"):
                yield AnswerPane(
                    "fine-tuned", empty="The fine-tuned model's answer appears here.", id="tuned"
                )
                yield AnswerPane("base", empty="Its base model's answer to the same prompt.", id="base")
                yield AnswerPane("second run", id="second")
            yield Input(placeholder="Ask the fine-tuned model and its base; Enter sends", id="prompt")

    def on_mount(self) -> None:
        self.slots = {name: Slot(name) for name in SLOT_MODELS}
        self.temperature = 0.0
        self.query_one("#prompt", Input).cursor_blink = False
        self.query_one("#second", AnswerPane).display = False
        self._looked_for_default = False
        self._show_head()
        self._status(
            Text(
                "Type a prompt, Enter sends it. Esc leaves the field: then r chooses the run, c a second "
                "run beside it, + and - the temperature.",
                "dim",
            )
        )

    def on_unmount(self) -> None:
        for slot in self.slots.values():
            self._close(slot, wait=True)

    def show_plan(self) -> None:
        main = self.slots["main"]
        if main.run_path is None and not self._looked_for_default:
            self._looked_for_default = True
            self._find_default(self.ftui.runs_dir)

    # --- choosing runs ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="try-default", exit_on_error=False)
    def _find_default(self, runs_dir: Path) -> None:
        rows = finished_runs(runs_dir)
        self.app.call_from_thread(self._default_found, rows[0].path if rows else None)

    def _default_found(self, path: Path | None) -> None:
        if self.slots["main"].run_path is not None:
            return  # a run was chosen meanwhile (t on the runs step)
        if path is None:
            self._status(Text("No finished run yet: train one on step 6, then try it here.", "yellow"))
            return
        self._choose("main", path, load=False)  # loads at the first prompt: looking costs nothing

    def on_run_actions_try_requested(self, message: RunActions.TryRequested) -> None:
        """`t` on the runs step (the app forwards it here)."""
        message.stop()
        self._choose("main", Path(message.run_path), load=True)

    def action_choose_run(self) -> None:
        self.app.push_screen(
            RunPicker(self.ftui.runs_dir, "Which run to try?"),
            lambda path: self._choose("main", path, load=True) if isinstance(path, Path) else None,
        )

    def action_choose_second(self) -> None:
        main = self.slots["main"]

        def chosen(path: Path | str | None) -> None:
            if path == NONE:
                self._choose("second", None, load=False)
            elif isinstance(path, Path):
                self._choose("second", path, load=True)

        self.app.push_screen(
            RunPicker(
                self.ftui.runs_dir,
                "Which run to put beside it?",
                offer_none="No second run",
                exclude=main.run_path.name if main.run_path else "",
            ),
            chosen,
        )

    def _choose(self, name: str, path: Path | None, *, load: bool) -> None:
        slot = self.slots[name]
        self._close(slot)
        slot.run_path, slot.run, slot.refusal, slot.plan = path, None, "", None
        slot.state, slot.pending, slot.waiting = "idle", None, set()
        slot.generation += 1
        panes = [PANE_OF[(name, model)] for model in SLOT_MODELS[name]]
        for pane in panes:
            self.query_one(f"#{pane}", AnswerPane).clear()
            self.query_one(f"#{pane}", AnswerPane).set_status("")
        if name == "second":
            second = self.query_one("#second", AnswerPane)
            second.display = path is not None
            self.query_one("#answers").set_class(path is not None, "-three")
        self._show_head()
        if path is None:
            return
        if load:
            slot.state = "queued"
        self._read_run(name, slot.generation, path)

    @work(thread=True, group="try-read", exit_on_error=False)
    def _read_run(self, name: str, generation: int, path: Path) -> None:
        self.post_message(self.RunRead(name, generation, *read_finished(path)))

    def on_try_screen_run_read(self, message: RunRead) -> None:
        slot = self.slots[message.slot]
        if message.generation != slot.generation:
            return
        slot.run, slot.refusal = message.run, message.refusal
        self._show_head()
        if slot.refusal:
            slot.state = "idle"
            self._refused(slot, slot.refusal)
            return
        for model in SLOT_MODELS[slot.name]:
            self.query_one(f"#{PANE_OF[(slot.name, model)]}", AnswerPane).set_status("not loaded")
        self._start_loads()

    # --- loading models ---------------------------------------------------------------------------

    def _start_loads(self) -> None:
        """Start the queued processes one at a time: the memory check of the next one counts what the
        one still loading will take."""
        if any(slot.state == "planning" for slot in self.slots.values()):
            return
        for slot in self.slots.values():
            if slot.state == "queued" and slot.run is not None:
                loading = [s for s in self.slots.values() if s.state == "loading" and s.plan is not None]
                slot.state = "planning"
                for model in SLOT_MODELS[slot.name]:
                    self.query_one(f"#{PANE_OF[(slot.name, model)]}", AnswerPane).set_status(
                        "checking memory…"
                    )
                self._load(
                    slot.name,
                    slot.generation,
                    slot.run,
                    self.ftui.nvml,
                    sum(s.plan.estimate_gib for s in loading),
                    ", ".join(s.run.run_id for s in loading),
                )
                return

    @work(thread=True, group="try-load", exit_on_error=False)
    def _load(self, name: str, generation: int, run: Any, nvml: Any, loading_gib: float, beside: str) -> None:
        from ftui.core.chat import ChatProcess, check_room_beside, plan_chat
        from ftui.core.errors import UserError

        with_base = name == "main"
        try:
            plan = plan_chat(run, with_base=with_base, tokens=KV_TOKENS + MAX_NEW_TOKENS, nvml=nvml)
            check_room_beside(plan, loading_gib, beside)
        except UserError as error:
            self.post_message(self.Planned(name, generation, None, None, None, str(error)))
            return
        log = open(run.path / "chat.log", "ab")  # noqa: SIM115 - closed with the process
        try:
            process = ChatProcess(plan, with_base=with_base, log=log)
        except OSError as error:
            log.close()
            sentence = (
                f"The model process could not start ({error.strerror or error}); check the run's Python."
            )
            self.post_message(self.Planned(name, generation, None, None, None, sentence))
            return
        self.post_message(self.Planned(name, generation, plan, process, log, ""))

    def on_try_screen_planned(self, message: Planned) -> None:
        slot = self.slots[message.slot]
        if message.generation != slot.generation or slot.state != "planning":
            if message.process is not None:  # the run changed meanwhile: this process is not wanted
                stale = Slot(slot.name, process=message.process, log=message.log)
                self._close(stale)
            self._start_loads()
            return
        if message.refusal:
            slot.state, slot.refusal = "idle", message.refusal
            self._refused(slot, message.refusal)
            self._start_loads()
            return
        slot.plan, slot.process, slot.log, slot.state = message.plan, message.process, message.log, "loading"
        where = f"on the {message.plan.device} (about {gib(message.plan.estimate_gib * 1024**3)})"
        for model in SLOT_MODELS[slot.name]:
            self.query_one(f"#{PANE_OF[(slot.name, model)]}", AnswerPane).set_status(f"loading {where}…")
        self._status(Text(f"Loading {slot.run.run_id} {where}…", "dim"))
        # A thread of its own, not a Textual worker: it blocks on the process's pipe for as long as the
        # process lives, and Textual's worker threads are joined when the app exits.
        threading.Thread(
            target=read_events,
            args=(self, slot.name, slot.generation, message.process),
            name=f"ftui-chat-{slot.name}",
            daemon=True,
        ).start()
        self._start_loads()

    def _close(self, slot: Slot, *, wait: bool = False) -> None:
        """End the slot's process (it finishes the answer it is writing, then quits; killed if it lingers)."""
        process, log = slot.process, slot.log
        slot.process = slot.log = None
        if process is None:
            return

        def close() -> None:
            process.close(timeout=2.0)
            if log is not None:
                log.close()

        if wait:
            close()
        else:
            threading.Thread(target=close, name="ftui-chat-close", daemon=True).start()

    # --- the model process's news -----------------------------------------------------------------

    def on_try_screen_model_event(self, message: ModelEvent) -> None:
        slot = self.slots[message.slot]
        if message.generation != slot.generation:
            return
        event = message.event
        kind = event.get("event")
        if kind == "loading":
            self._status(Text(f"Loading {one_line(str(event.get('what', '')))}…", "dim"))
        elif kind == "ready":
            slot.state = "ready"
            for model in SLOT_MODELS[slot.name]:
                self.query_one(f"#{PANE_OF[(slot.name, model)]}", AnswerPane).set_status(
                    f"ready on the {event.get('device')}"
                )
            self._status(
                Text(
                    f"{slot.run.run_id}: loaded on the {event.get('device')} in {event.get('seconds')} s.",
                    "green",
                )
            )
            if slot.pending is not None:
                prompt, temperature = slot.pending
                slot.pending = None
                self._send(slot, prompt, temperature)
        elif kind == "start":
            pane = self._pane(slot, event.get("model"))
            if pane is not None:
                pane.stream("")
        elif kind == "done":
            pane = self._pane(slot, event.get("model"))
            if pane is not None:
                note = f"{event.get('new_tokens')} tokens in {event.get('seconds')} s, {event.get('stopped')}"
                pane.finish(str(event.get("text", "")), note)
            slot.waiting.discard(str(event.get("model")))
            if not slot.waiting and slot.state == "answering":
                slot.state = "ready"
                self._answered()
        elif kind == "error":
            sentence = str(event.get("message", "The model process failed."))
            if event.get("id") is None and slot.state in ("loading", "planning"):
                sentence += f" See {slot.run.path / 'chat.log'}."
                slot.refusal = sentence
                self._refused(slot, sentence)
                return
            for model in list(slot.waiting):
                pane = self._pane(slot, model)
                if pane is not None:
                    pane.fail(sentence)
            slot.waiting = set()
            if slot.state == "answering":
                slot.state = "ready"
            self._answered()

    def on_try_screen_answer_grew(self, message: AnswerGrew) -> None:
        slot = self.slots[message.slot]
        if message.generation == slot.generation and message.model in slot.waiting:
            pane = self._pane(slot, message.model)
            if pane is not None:
                pane.stream(message.text)

    def on_try_screen_process_ended(self, message: ProcessEnded) -> None:
        slot = self.slots[message.slot]
        if message.generation != slot.generation or slot.process is None:
            return
        if slot.refusal:  # already said why (a load error)
            slot.state = "ended"
            self._close(slot)
            return
        sentence = (
            f"The model process ended (exit status {message.returncode}); see "
            f"{slot.run.path / 'chat.log'}; r chooses the run again to restart it."
        )
        for model in SLOT_MODELS[slot.name]:
            pane = self._pane(slot, model)
            if pane is not None and (model in slot.waiting or slot.state in ("loading", "queued")):
                pane.fail(sentence)
            if pane is not None:
                pane.set_status("ended")
        slot.state, slot.waiting = "ended", set()
        self._close(slot)
        self._status(Text(sentence, "red"))

    def _pane(self, slot: Slot, model: Any) -> AnswerPane | None:
        pane = PANE_OF.get((slot.name, str(model)))
        return self.query_one(f"#{pane}", AnswerPane) if pane else None

    def _refused(self, slot: Slot, sentence: str) -> None:
        for model in SLOT_MODELS[slot.name]:
            pane = self._pane(slot, model)
            if pane is not None:
                pane.fail(sentence)
                pane.set_status("refused")
        slot.pending, slot.waiting = None, set()
        self._status(Text(sentence, "bold red"))
        self._close(slot)

    # --- asking -----------------------------------------------------------------------------------

    @on(Input.Submitted, "#prompt")
    def _submitted(self, event: Input.Submitted) -> None:
        prompt = event.value.strip()
        if not prompt:
            return
        slots = [slot for slot in self.slots.values() if slot.live]
        main = self.slots["main"]
        if not main.live:
            self._status(
                Text(main.refusal or "Choose a run to try first (r); step 7 lists them.", "bold red")
            )
            return
        # A model still being checked or loaded takes the prompt when it is ready (slot.pending); only a
        # prompt already asked (answering, or waiting for its model) makes this one wait.
        if any(slot.state == "answering" or slot.pending for slot in slots):
            self._status(Text("Still answering the last prompt; wait for it to finish.", "yellow"))
            return
        event.input.value = ""
        for slot in slots:
            for model in SLOT_MODELS[slot.name]:
                self.query_one(f"#{PANE_OF[(slot.name, model)]}", AnswerPane).begin(prompt)
            if slot.state == "ready":
                self._send(slot, prompt, self.temperature)
            else:
                slot.pending = (prompt, self.temperature)
                slot.waiting = set(SLOT_MODELS[slot.name])
                if slot.state in ("idle", "ended"):
                    slot.state = "queued"
        self._start_loads()

    def _send(self, slot: Slot, prompt: str, temperature: float) -> None:
        slot.state, slot.waiting = "answering", set(SLOT_MODELS[slot.name])
        try:
            slot.process.send(
                prompt,
                models=list(SLOT_MODELS[slot.name]),
                temperature=temperature,
                max_new_tokens=MAX_NEW_TOKENS,
            )
        except (OSError, ValueError):  # the process is gone: ProcessEnded says so
            return
        self._status(Text(f"Answering, temperature {temperature_words(temperature)}…", "dim"))

    def _answered(self) -> None:
        if all(slot.state != "answering" for slot in self.slots.values()):
            self._status(Text("Answered. Type another prompt, or + / - to change the temperature.", "dim"))

    # --- the other keys -----------------------------------------------------------------------------

    def action_temperature(self, direction: int) -> None:
        steps = round(self.temperature / TEMPERATURE_STEP) + direction
        self.temperature = round(max(0.0, min(MAX_TEMPERATURE, steps * TEMPERATURE_STEP)), 1)
        self._show_head()

    def action_focus_prompt(self) -> None:
        self.query_one("#prompt", Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "temperature" and isinstance(self.focused, Input):
            return False  # typed into the prompt, as every letter is
        if action == "temperature" and hasattr(self, "temperature"):
            direction = parameters[0] if parameters else 0
            if direction == -1 and self.temperature <= 0:
                return None
            if direction == 1 and self.temperature >= MAX_TEMPERATURE:
                return None
        return True

    # --- what the screen says ---------------------------------------------------------------------

    def _status(self, text: Text) -> None:
        self.query_one("#try-status", Static).update(text)

    def _show_head(self) -> None:
        main, second = self.slots["main"], self.slots["second"]
        text = Text(end="")
        text.append("Try ", "bold")
        if main.run_path is None:
            text.append("no run yet", "yellow")
        else:
            text.append(main.run_path.name, "bold")
            if main.run is not None:
                template = main.run.template or "the model's own"
                text.append(
                    f"  {one_line(main.run.model, 40)}, {main.run.method}, template {template}", "dim"
                )
        text.append("\n")
        text.append("beside its base model")
        if second.run_path is not None:
            text.append(" and ")
            text.append(second.run_path.name, "bold")
        text.append(f"  ·  temperature {temperature_words(self.temperature)}")
        text.append("  ·  each prompt asked fresh", "dim")
        self.query_one("#try-head", Static).update(text)
        self.refresh_bindings()
        tuned = self.query_one("#tuned", AnswerPane)
        tuned.set_title(f"fine-tuned {main.run_path.name}" if main.run_path else "fine-tuned")
        base = self.query_one("#base", AnswerPane)
        base.set_title(f"base {one_line(main.run.model, 40)}" if main.run is not None else "base")
        if second.run_path is not None:
            self.query_one("#second", AnswerPane).set_title(second.run_path.name)


def temperature_words(temperature: float) -> str:
    return "0 (greedy)" if temperature <= 0 else f"{temperature:.1f} (sampled)"


def read_finished(path: Path) -> tuple[Any, str]:
    """(the run, "") when it has a model to try, else (None, one sentence) (core reads only)."""
    from ftui.core.errors import UserError
    from ftui.core.exports import read_run

    try:
        return read_run(str(path), purpose="try"), ""
    except UserError as error:
        return None, str(error)
