"""A live VRAM gauge: per GPU a memory bar with the planned fine-tune's peak marked on it.

Once a second one short thread worker reads the GPUs (`ftui.core.hardware.sample_gpus`, four NVML
calls per GPU) and comes back by message; the widget redraws itself from that, nothing else. Without a
GPU it says why and offers the catalog's cards: choosing one posts `VramGauge.PlanCardChosen`, which
the app turns into the Plan's GPU.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rich.style import Style
from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

from ftui.core.fit import FIT_WORDS, fit_on
from ftui.core.hardware import GpuSample, GpuSamples, sample_gpus
from ftui.core.plan import GpuChoice

SPARKS = "▁▂▃▄▅▆▇█"


class Card(Protocol):
    """A card from the GPU list (ftui.core.catalog's Gpu has these)."""

    name: str
    memory_gib: float
    bf16: bool


def _catalog_cards() -> list[Any]:
    try:
        from ftui.core.catalog import load_catalog
    except ImportError:  # the catalog is not part of this build
        return []
    return list(load_catalog().gpus)


def sparkline(values: Sequence[float], width: int) -> str:
    """Fractions 0..1 as block characters, the newest on the right."""
    return "".join(SPARKS[min(len(SPARKS) - 1, max(0, int(v * len(SPARKS))))] for v in list(values)[-width:])


class VramGauge(Widget, can_focus=False):
    """Per GPU: used/total memory, the plan's estimated peak, utilization, temperature, a history."""

    DEFAULT_CSS = """
    VramGauge {
        height: auto;
        padding: 0 1;
        &:focus { background-tint: $foreground 5%; }
        & > .vram-gauge--label { text-style: bold; }
        & > .vram-gauge--dim { color: $text-muted; }
        & > .vram-gauge--used { color: $primary; }
        & > .vram-gauge--free { color: $foreground 25%; }
        & > .vram-gauge--fits { color: $success; text-style: bold; }
        & > .vram-gauge--tight { color: $warning; text-style: bold; }
        & > .vram-gauge--too-big { color: $error; text-style: bold; }
        & > .vram-gauge--history { color: $accent; }
        & > .vram-gauge--cursor { background: $accent 30%; text-style: bold; }
    }
    """
    COMPONENT_CLASSES = {
        "vram-gauge--label",
        "vram-gauge--dim",
        "vram-gauge--used",
        "vram-gauge--free",
        "vram-gauge--fits",
        "vram-gauge--tight",
        "vram-gauge--too-big",
        "vram-gauge--history",
        "vram-gauge--cursor",
    }
    BINDINGS = [
        Binding("up", "card(-1)", "Previous card", show=False),
        Binding("down", "card(1)", "Next card", show=False),
        Binding("enter", "choose_card", "Plan for this card"),
        Binding("c", "change_card", "Other card"),
    ]

    estimate_gib: reactive[float | None] = reactive(None)
    """The planned fine-tune's estimated peak, set by the app; None hides the marker."""

    @dataclass
    class Sampled(Message):
        """A reading came back from the worker (high-rate: a newer one replaces an unread older one)."""

        samples: GpuSamples

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, VramGauge.Sampled)

    @dataclass
    class PlanCardChosen(Message):
        """No GPU here: the user chose a card to plan for; the app makes it the Plan's GPU."""

        name: str
        vram_gib: float
        bf16: bool

        def gpu_choice(self) -> GpuChoice:
            """The card as the Plan holds it (a card to rent, not one detected here)."""
            return GpuChoice(name=self.name, vram_gib=self.vram_gib, bf16=self.bf16, detected=False)

    def __init__(
        self,
        *,
        cards: Sequence[Card] | None = None,
        nvml: Any = None,
        sample: Callable[[], GpuSamples] | None = None,
        interval: float = 1.0,
        history: int = 60,
        visible_cards: int = 6,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """cards: the GPU list to offer without a GPU (default: the catalog's). nvml: the NVML source
        (pynvml by default; tests pass a stand-in). sample: replaces the reading altogether."""
        super().__init__(name=name, id=id, classes=classes)
        self._cards = list(cards) if cards is not None else None
        self._sample = sample or (lambda: sample_gpus(nvml))
        self.interval = interval
        self.samples: GpuSamples | None = None  # the latest reading; None before the first
        self.planned_card: Card | None = None
        self.cursor = 0
        self._visible_cards = visible_cards
        self._history: dict[int, deque[float]] = {}
        self._history_length = history
        self._timer: Timer | None = None
        self._shape: int | None = None

    # --- polling ----------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.poll()
        self._timer = self.set_interval(self.interval, self.poll)

    @work(thread=True, exclusive=True, group="vram-gauge", exit_on_error=False)
    def poll(self) -> None:
        """One reading, off the event loop (NVML calls block), back by message."""
        try:
            samples = self._sample()
        except Exception as error:  # a driver failing mid-session must not take the app down
            samples = GpuSamples(gpus=(), gpu_error=f"Reading the GPUs failed ({error}); check `nvidia-smi`.")
        self.post_message(self.Sampled(samples))

    def _shown(self) -> bool:
        """Neither this gauge nor a container around it is hidden (display: none)."""
        return all(node.display for node in self.ancestors_with_self if isinstance(node, Widget))

    def on_vram_gauge_sampled(self, message: Sampled) -> None:
        message.stop()
        self.samples = message.samples
        for gpu in message.samples.gpus:
            if gpu.memory_used is not None and gpu.memory_total:
                line = self._history.setdefault(gpu.index, deque(maxlen=self._history_length))
                line.append(gpu.memory_used / gpu.memory_total)
        if not message.samples.gpus and self._timer is not None:
            self._timer.pause()  # nothing to watch; the card list does not change by itself
        # Focusable only while there is a card list to move through; take focus if nobody has it and the
        # list can be seen (a gauge on a hidden panel must not take the keys of the form beside it).
        self.can_focus = not message.samples.gpus
        if self.can_focus and self.screen.focused is None and self._shown():
            self.focus()
        # A new layout only when the height can change (first reading, GPUs came or went); a tick repaints.
        shape = len(message.samples.gpus)
        self.refresh(layout=shape != self._shape)
        self._shape = shape

    def history(self, index: int) -> list[float]:
        return list(self._history.get(index, ()))

    # --- the plan ---------------------------------------------------------------------------------

    @property
    def cards(self) -> list[Any]:
        if self._cards is None:
            self._cards = _catalog_cards()
        return self._cards

    def fit_for(self, index: int = 0) -> str | None:
        """fits / tight / too_big for GPU `index` (or the planned card), None without an estimate."""
        if self.estimate_gib is None:
            return None
        for gpu in self.samples.gpus if self.samples else ():
            if gpu.index == index:
                return fit_on(self.estimate_gib, gpu.memory_total_gib, gpu.memory_used_gib)
        if self.planned_card is not None:
            return fit_on(self.estimate_gib, self.planned_card.memory_gib)
        return None

    def _choosing(self) -> bool:
        return bool(self.samples and not self.samples.gpus and self.planned_card is None and self.cards)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("card", "choose_card"):
            return self._choosing()
        if action == "change_card":
            return self.planned_card is not None
        return True

    def action_card(self, step: int) -> None:
        self.cursor = (self.cursor + step) % len(self.cards)
        self.refresh()

    def action_choose_card(self) -> None:
        card = self.cards[self.cursor]
        self.planned_card = card
        self.post_message(
            self.PlanCardChosen(name=card.name, vram_gib=float(card.memory_gib), bf16=bool(card.bf16))
        )
        self.refresh(layout=True)
        self.app.refresh_bindings()

    def action_change_card(self) -> None:
        self.planned_card = None
        self.refresh(layout=True)
        self.app.refresh_bindings()

    # --- drawing ----------------------------------------------------------------------------------

    def _style(self, part: str) -> Style:
        return self.get_component_rich_style(f"vram-gauge--{part}")

    def render(self) -> Text:
        width = max(20, self.content_size.width or 78)
        if self.samples is None:
            return Text("Reading the GPUs…", style=self._style("dim"))
        if self.samples.gpus:
            text = Text()
            for n, gpu in enumerate(self.samples.gpus):
                if n:
                    text.append("\n")
                self._draw_gpu(text, gpu, width)
            return text
        return self._draw_no_gpu(width)

    def _bar(self, text: Text, width: int, total_gib: float, used_gib: float | None) -> None:
        """Used cells, free cells, and the estimate's cell (or an arrow past the end) in the fit colour."""
        used_cells = 0 if used_gib is None else round(width * min(1.0, used_gib / total_gib))
        marker = None
        fit = ""
        estimate = self.estimate_gib or 0.0
        if self.estimate_gib is not None and total_gib > 0:
            fit = fit_on(self.estimate_gib, total_gib, used_gib) or ""
            marker = min(width - 1, int(width * self.estimate_gib / total_gib))
        # One span per run of cells, not per cell: a tick redraws a few spans instead of a few hundred.
        cells = ["used" if cell < used_cells else "free" for cell in range(width)]
        if marker is not None:
            cells[marker] = "marker"
        run_start = 0
        for cell in range(1, width + 1):
            if cell < width and cells[cell] == cells[run_start]:
                continue
            part, length = cells[run_start], cell - run_start
            if part == "marker":
                text.append("▶" if estimate > total_gib else "┃", self._style(fit.replace("_", "-")))
            else:
                text.append(("█" if part == "used" else "░") * length, self._style(part))
            run_start = cell

    def _plan_words(self, total_gib: float, used_gib: float | None) -> Text:
        text = Text()
        if self.estimate_gib is None:
            text.append("no plan yet", self._style("dim"))
            return text
        fit = fit_on(self.estimate_gib, total_gib, used_gib)
        text.append(f"plan ┃ {self.estimate_gib:.1f} GiB: ", self._style("dim"))
        text.append(FIT_WORDS[fit].word, self._style(fit.replace("_", "-")))
        free = None if used_gib is None else total_gib - used_gib
        if fit == "tight" and free is not None and self.estimate_gib > free:
            text.append(f" ({free:.1f} GiB free now)", self._style("dim"))
        return text

    def _draw_gpu(self, text: Text, gpu: GpuSample, width: int) -> None:
        na = "n/a"
        util = na if gpu.utilization is None else f"{gpu.utilization}%"
        temp = na if gpu.temperature is None else f"{gpu.temperature}°C"
        text.append(f"GPU {gpu.index} ", self._style("label"))
        text.append(gpu.name, self._style("label"))
        text.append(f"  util {util}  {temp}", self._style("dim"))
        if gpu.power_w is not None:
            text.append(f"  {gpu.power_w:.0f} W", self._style("dim"))
        total = gpu.memory_total_gib
        used = gpu.memory_used_gib
        numbers = f" {'?' if used is None else f'{used:.1f}'} / {total:.1f} GiB"
        text.append("\n")
        self._bar(text, max(10, width - len(numbers)), total, used)
        text.append(numbers)
        text.append("\n")
        plan = self._plan_words(total, used)
        text.append_text(plan)
        history = self.history(gpu.index)
        room = width - plan.cell_len - len("   memory ")
        if history and room >= 5:
            text.append("   memory ", self._style("dim"))
            text.append(sparkline(history, min(room, 30)), self._style("history"))

    def _draw_no_gpu(self, width: int) -> Text:
        assert self.samples is not None
        text = Text()
        text.append("No GPU to watch: ", self._style("label"))
        text.append(self.samples.gpu_error or "", self._style("dim"))
        if self.planned_card is not None:
            card = self.planned_card
            text.append("\nPlanning for ")
            text.append(card.name, self._style("label"))
            text.append(
                f" ({card.memory_gib:.1f} GiB{', bf16' if card.bf16 else ', no bf16'}); press c for another card.\n"
            )
            numbers = f" {card.memory_gib:.1f} GiB"
            self._bar(text, max(10, width - len(numbers)), float(card.memory_gib), None)
            text.append(numbers + "\n")
            text.append_text(self._plan_words(float(card.memory_gib), None))
            return text
        if not self.cards:
            text.append("\nThe GPU list is not available, so there is no card to plan for.")
            return text
        text.append("\nPlan for a card you would rent (↑↓ choose, enter plan for it):")
        count = len(self.cards)
        shown = min(self._visible_cards, count)
        first = min(max(0, self.cursor - shown // 2), count - shown)
        for position in range(first, first + shown):
            card = self.cards[position]
            line = f"{card.name:<20} {card.memory_gib:>6.1f} GiB  {'bf16' if card.bf16 else 'fp16 only'}"
            if self.estimate_gib is not None:
                line += f"  {FIT_WORDS[fit_on(self.estimate_gib, float(card.memory_gib))].word}"
            chosen = position == self.cursor
            text.append("\n")
            text.append(
                f"{'▸' if chosen else ' '} {line}"[:width], self._style("cursor") if chosen else Style()
            )
        return text
