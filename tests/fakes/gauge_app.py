"""A tiny app around the VRAM gauge, for its tests and for benchmarks/gauge_cpu.py.

Not a fake: it is the real widget in a real Textual app, standing where the hardware screen will
(issue 7 owns that screen). Run it in a terminal:
    python -m tests.fakes.gauge_app --source fake --estimate 48    # the stand-in NVML, two moving H200s
    python -m tests.fakes.gauge_app --source real                  # pynvml: the GPUs of this machine
"""

from __future__ import annotations

import argparse
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static

from ftui.widgets.vram_gauge import VramGauge


class GaugeApp(App):
    TITLE = "ftui"
    SUB_TITLE = "hardware"

    def __init__(
        self,
        *,
        nvml: Any = None,
        cards: list | None = None,
        estimate_gib: float | None = None,
        interval: float = 1.0,
        summary: str = "",
        bare: bool = False,
    ) -> None:
        super().__init__()
        self.gauge_options = {"nvml": nvml, "cards": cards, "interval": interval}
        self.bare = bare  # the same app without the gauge: what Textual costs sitting still
        self.estimate_gib = estimate_gib
        self.summary = summary
        self.chosen: list[VramGauge.PlanCardChosen] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.summary, id="summary")
        if not self.bare:
            yield VramGauge(**self.gauge_options)
        yield Footer()

    def on_mount(self) -> None:
        if not self.bare:
            self.query_one(VramGauge).estimate_gib = self.estimate_gib

    def on_vram_gauge_plan_card_chosen(self, message: VramGauge.PlanCardChosen) -> None:
        self.chosen.append(message)
        self.notify(f"Planning for {message.name} ({message.vram_gib:g} GiB).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", choices=["fake", "real"], default="fake")
    parser.add_argument("--gpus", type=int, default=2, help="GPUs of the stand-in NVML")
    parser.add_argument("--estimate", type=float, default=48.0)
    parser.add_argument("--bare", action="store_true", help="leave the gauge out (Textual's own idle cost)")
    args = parser.parse_args()
    nvml = None
    if args.source == "fake":
        from tests.fakes.nvml import FakeNvml, h200

        nvml = FakeNvml([h200(i) for i in range(args.gpus)], moving=True)
    from ftui.core.hardware import probe

    hardware = probe(nvml, processes=False)
    summary = (
        f"CPU {hardware.cpu_usable} cores · RAM {hardware.ram_available_gib:.0f} of "
        f"{hardware.ram_total_gib:.0f} GiB free · driver {hardware.driver_version or 'none'}"
    )
    GaugeApp(nvml=nvml, estimate_gib=args.estimate, summary=summary, bare=args.bare).run(mouse=False)


if __name__ == "__main__":
    main()
