"""What every step screen shares: the step bar on top, the key bar (footer) below, the Plan it reads and
edits, and the core calls several screens make (in worker threads: they read files, maybe the Hub)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen

from ftui.core.plan import Plan
from ftui.screens import STEPS
from ftui.widgets.key_bar import KeyBar
from ftui.widgets.step_bar import StepBar
from ftui.widgets.text_field import escaped_key, press

if TYPE_CHECKING:
    from ftui.core.advice import Advice
    from ftui.core.hardware import Hardware


class FtuiHost(Protocol):
    """What the step screens read from the app (ftui.app.FtuiApp has these); the screens never import
    the app module, and the app imports a screen only when it is first shown."""

    plan: Plan
    hardware: Hardware | None
    nvml: Any
    gauge_interval: float
    runs_dir: Path


def plan_gpu_words(plan: Plan) -> Text:
    text = Text(end="")
    text.append("Planning for ", "bold")
    if plan.gpu is None:
        text.append("no GPU yet: choose a card below to check what fits.")
    else:
        gpu = plan.gpu
        how = "detected here" if gpu.detected else "a card to rent"
        bf16 = "bf16" if gpu.bf16 else "no bf16: fp16"
        if gpu.count > 1:
            text.append(f"{gpu.count} x {gpu.name}", "bold")
            text.append(f" ({gpu.vram_gib:.1f} GiB each, {bf16}, {how}; - and + change how many)")
        else:
            text.append(f"{gpu.name}", "bold")
            text.append(f" ({gpu.vram_gib:.1f} GiB, {bf16}, {how})")
    return text


class StepScreen(Screen):
    STEP: ClassVar[str] = ""

    def compose(self) -> ComposeResult:
        yield StepBar(STEPS, self.STEP)
        yield from self.compose_step()
        yield KeyBar()

    def compose_step(self) -> ComposeResult:
        yield from ()

    @property
    def ftui(self) -> FtuiHost:
        return cast(FtuiHost, self.app)

    @property
    def plan(self) -> Plan:
        return self.ftui.plan

    def on_key(self, event: events.Key) -> None:
        # Esc then a key, read as one (Alt+key) outside a text field too: the key it was meant to be.
        key = escaped_key(event)
        if key is not None:
            event.stop()
            press(self.app, key)

    def on_screen_resume(self) -> None:
        self.show_plan()
        self.focus_main()

    def main_widget(self) -> str | None:
        """The selector of the widget that has the focus when the step is shown (its AUTO_FOCUS, unless
        a step says otherwise): every visit starts there, so arrows and keys act at once."""
        return self.AUTO_FOCUS

    def focus_main(self) -> None:
        selector = self.main_widget()
        found = self.query(selector) if selector else None
        if found:
            found.first().focus()

    async def on_ftui_app_action_asked(self, message: Message) -> None:
        """FtuiApp.ActionAsked (by name): the command palette asked for one of this step's actions."""
        action = str(getattr(message, "action", ""))
        if self.check_action(action, ()) is not True:
            self.notify(
                f"That is not available here right now ({action.replace('_', ' ')}).", severity="warning"
            )
            return
        await self.run_action(action)

    def on_ftui_app_plan_changed(self, message: Message) -> None:
        """FtuiApp.PlanChanged (handled by name: this module does not import the app)."""
        if self.is_mounted:  # a screen still composing shows the Plan when it is resumed
            self.show_plan()

    def show_plan(self) -> None:
        """Show the Plan as it is now: another screen may have changed it since this one was shown."""

    # --- core calls, off the event loop ------------------------------------------------------------

    def refresh_advice(self) -> None:
        self._advise(copy.deepcopy(self.plan))

    @work(thread=True, exclusive=True, group="advice", exit_on_error=False)
    def _advise(self, plan: Plan) -> None:
        from ftui.core.advice import advise
        from ftui.core.errors import UserError

        try:
            advice: Advice | str = advise(plan)
        except UserError as error:  # a broken catalog file: its sentence, not a traceback
            advice = str(error)
        self.app.call_from_thread(self._advice_ready, advice)

    def _advice_ready(self, advice: Advice | str) -> None:
        if isinstance(advice, str):
            self.notify(advice, severity="error", timeout=10)
        else:
            self.on_advice_ready(advice)

    def on_advice_ready(self, advice: Advice) -> None:
        """Override: show the advice for the Plan as it was when asked."""

    def refresh_estimate(self) -> None:
        self._estimate(copy.deepcopy(self.plan))

    @work(thread=True, exclusive=True, group="estimate", exit_on_error=False)
    def _estimate(self, plan: Plan) -> None:
        self.app.call_from_thread(self.on_estimate_ready, estimate_plan(plan))

    def on_estimate_ready(self, estimate: PlanEstimate) -> None:
        """Override: the estimator's figures for the plan as it was when asked."""


@dataclass(frozen=True)
class PlanEstimate:
    gib: float | None = None  # peak GPU memory; None without a model ftui can size
    fit: str | None = None  # fits | tight | too_big on the plan's GPU; None without one
    seconds: float | None = None  # the whole run; None without data, or a card ftui has no speed for
    steps: int | None = None
    tokens_per_second: float | None = None
    problem: str = ""  # why there is no estimate, in one sentence
    batch: str = ""  # the micro-batch x accumulation the run will use, and why (ftui.core.batching)


def estimate_plan(plan: Plan) -> PlanEstimate:
    """The estimator's memory and time for the plan's model, settings, GPU and data (core calls only)."""
    if not plan.model:
        return PlanEstimate(problem="Choose a model (step 5) to see its memory and time.")
    from ftui.core.catalog import dims_for
    from ftui.core.errors import UserError
    from ftui.core.memory import estimate_peak_vram

    try:
        dims = dims_for(plan.model)
    except UserError as error:
        return PlanEstimate(problem=str(error))
    from ftui.core.memory_vision import vision_load_for

    vision = vision_load_for(plan, dims.architecture)
    settings, batch = plan.settings, ""
    if plan.gpu is not None:  # the split the run will use (RunConfig.from_plan makes the same choice)
        from ftui.core.batching import choose_batch

        data = plan.dataset
        mean_row = round(data.total_tokens / data.rows) if data and data.total_tokens and data.rows else None
        choice = choose_batch(
            dims,
            settings,
            vram_gib=plan.gpu.vram_gib,
            gpu=plan.gpu.name,
            gpus=max(1, len(settings.gpus)),
            mean_row=mean_row,
            vision=vision,
        )
        settings, batch = choice.settings(settings), choice.short
    if plan.gpu is not None and plan.gpu.count > 1:
        # Several cards: the per-GPU peak of the way ftui would use them (a copy each, or sharded), the
        # same choice `ftui estimate --gpus N` and the advice make.
        from ftui.core.sharding import choose_way

        gpu = plan.gpu
        way = choose_way(dims, settings, gpu.count, gpu.vram_gib, card=gpu.name, vision=vision)
        gib, fit = way.estimate.total_gib, way.fits
    else:
        memory = estimate_peak_vram(dims, settings, vision=vision)
        gib, fit = memory.total_gib, memory.fit(plan.gpu.vram_gib) if plan.gpu else None
    seconds = steps = tps = None
    if plan.gpu and plan.dataset:
        from ftui.core.speed import estimate_eta

        eta = estimate_eta(dims, settings, plan.gpu.name, plan.dataset, vision)
        if eta is not None:
            seconds, steps, tps = eta.seconds, eta.steps, eta.step.tokens_per_second
    return PlanEstimate(gib=gib, fit=fit, seconds=seconds, steps=steps, tokens_per_second=tps, batch=batch)
