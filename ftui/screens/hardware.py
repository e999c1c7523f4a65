"""Step 2: the machine. The live VRAM gauge for every GPU, RAM and disk; without a GPU, a card to plan for;
and how many such cards the plan trains on (- and +): the advice then says what fits sharded over them."""

from __future__ import annotations

import dataclasses

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from ftui.screens.base import PlanEstimate, StepScreen, plan_gpu_words
from ftui.widgets.vram_gauge import VramGauge

GIB = 1024**3
MAX_CARDS = 8  # one machine's worth; more machines are a run setting (nodes), not a card to plan for
CARD_KEYS = Binding.Group("Cards", compact=True)


def machine_lines(hardware) -> Text:
    """CPU, RAM, disks, driver and the probe's warnings, as the probe reported them."""
    text = Text(end="")
    if hardware is None:
        text.append("Reading this machine…", "dim")
        return text
    cores = f"{hardware.cpu_cores or '?'} cores, {hardware.cpu_threads or '?'} threads"
    if hardware.cpu_usable and hardware.cpu_usable != hardware.cpu_threads:
        cores += f" ({hardware.cpu_usable} usable here)"
    text.append("CPU   ", "bold")
    text.append(cores + "\n")
    text.append("RAM   ", "bold")
    text.append(f"{hardware.ram_available_gib:.1f} GiB free of {hardware.ram_total_gib:.1f} GiB\n")
    for disk in hardware.disks:
        what = {"hf_cache": "models", "runs": "runs"}.get(disk.purpose, disk.purpose)
        free = "?" if disk.free is None else f"{disk.free / GIB:.0f} GiB free"
        text.append("Disk  ", "bold")
        text.append(f"{free} for {what} ({disk.path})\n")
    if hardware.driver_version:
        text.append("Driver ", "bold")
        text.append(f"{hardware.driver_version}, CUDA up to {hardware.cuda_version or '?'}")
        if hardware.cuda_visible_devices is not None:
            text.append(f", CUDA_VISIBLE_DEVICES={hardware.cuda_visible_devices}")
        text.append("\n")
    for warning in hardware.warnings:
        text.append(f"! {warning}\n", "yellow")
    text.rstrip()
    return text


class HardwareScreen(StepScreen):
    STEP = "hardware"
    BINDINGS = [
        Binding("minus", "cards(-1)", "Fewer cards", group=CARD_KEYS),
        Binding("plus,equals_sign", "cards(1)", "More cards", group=CARD_KEYS),
    ]

    def compose_step(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield Static(id="plan-gpu", classes="plan-line")
            yield VramGauge(nvml=self.ftui.nvml, interval=self.ftui.gauge_interval, id="gauge")
            yield Static(id="machine", classes="machine")

    def show_plan(self) -> None:
        self.query_one("#plan-gpu", Static).update(plan_gpu_words(self.plan))
        self.query_one("#machine", Static).update(machine_lines(self.ftui.hardware))
        self.refresh_estimate()
        self.refresh_bindings()  # the card keys come alive once there is a card

    def on_estimate_ready(self, estimate: PlanEstimate) -> None:
        self.query_one(VramGauge).estimate_gib = estimate.gib

    @on(VramGauge.PlanCardChosen)
    def _card_chosen(self, message: VramGauge.PlanCardChosen) -> None:
        count = self.plan.gpu.count if self.plan.gpu else 1  # another kind of card, as many of them
        self.plan.gpu = dataclasses.replace(message.gpu_choice(), count=count)
        self._plan_changed()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cards":
            return True if self.plan.gpu is not None else None  # dimmed until there is a card to count
        return True

    def action_cards(self, step: int) -> None:
        gpu = self.plan.gpu
        if gpu is None:
            return
        count = min(MAX_CARDS, max(1, gpu.count + step))
        if count != gpu.count:
            # The count is all the core needs: advise() and the estimate read plan.gpu.count, as they do
            # for `ftui advise --gpus N`.
            self.plan.gpu = dataclasses.replace(gpu, count=count)
            self._plan_changed()

    def _plan_changed(self) -> None:
        self.query_one("#plan-gpu", Static).update(plan_gpu_words(self.plan))
        self.refresh_estimate()
        self.refresh_bindings()
