"""The apps the TUI benchmarks run in a terminal, each reporting what it measured to a JSON file.

  runview  the real RunView (ftui.widgets.run_view) attached to a run directory: batched LogView,
           loss chart, progress line
  naive    the peer: the same tail of train.log written into a plain Textual Log one line at a time,
           each line a `write_line` (what a log view does without batching)
  ftui     the whole app (FtuiApp) on the train step attached to the run, the GPU gauge reading the
           stand-in NVML (no GPU here); for the CPU benchmark, which measures it from outside

While it runs, a callback scheduled every 20 ms on the event loop records how late it fires: the
event loop's lag, i.e. how long a key press would wait. The app ends (and writes its JSON) once the log
view shows the writer's last line ("END <n>"), or after --timeout seconds.

    python benchmarks/tui_harness.py runview RUN_DIR OUT.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.app import App, ComposeResult  # noqa: E402
from textual.widgets import Log  # noqa: E402

LAG_PROBE_S = 0.02


class Measured:
    """Event-loop lag and resident memory, sampled while the app runs."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.lags: list[float] = []
        self.rss: list[int] = []
        self.started = time.time()
        self.ended: float | None = None

    def start(self) -> None:
        self._last = time.perf_counter()
        asyncio.get_running_loop().call_later(LAG_PROBE_S, self._probe)

    def _probe(self) -> None:
        # The lag is how much later than due this callback runs: the time since the last one, less the
        # 20 ms it waited on purpose (a stall of the loop, or of the GIL, shows up here).
        now = time.perf_counter()
        self.lags.append(max(0.0, now - self._last - LAG_PROBE_S))
        if len(self.lags) % 12 == 0:
            self.rss.append(self.process.memory_info().rss)
        self._last = now
        asyncio.get_running_loop().call_later(LAG_PROBE_S, self._probe)

    def report(self, **extra: object) -> dict:
        # The stall still going on when the app finishes counts too (the probe had no chance to fire).
        lags = sorted([*self.lags, max(0.0, time.perf_counter() - self._last - LAG_PROBE_S)])

        def pct(p: float) -> float:
            return round(1000 * lags[min(len(lags) - 1, int(p * len(lags)))], 1)

        return {
            "lag_ms": {
                "p50": pct(0.5),
                "p99": pct(0.99),
                "max": round(1000 * lags[-1], 1),
                "samples": len(lags),
            },
            # The largest RSS in each quarter of the run: flat from the second quarter on means bounded.
            "rss_mb_by_quarter": [
                round(max(self.rss[i * len(self.rss) // 4 : (i + 1) * len(self.rss) // 4] or [0]) / 2**20, 1)
                for i in range(4)
            ],
            "rss_mb": {
                "first": round(self.rss[0] / 2**20, 1) if self.rss else None,
                "max": round(max(self.rss) / 2**20, 1) if self.rss else None,
                "last": round(self.rss[-1] / 2**20, 1) if self.rss else None,
            },
            "ended_at": self.ended,
            **extra,
        }


class RunViewHarness(App):
    def __init__(self, run_dir: Path, out: Path, timeout: float) -> None:
        super().__init__()
        self.run_dir, self.out, self.timeout = run_dir, out, timeout
        self.measured = Measured()

    def compose(self) -> ComposeResult:
        from ftui.widgets.run_view import RunView

        yield RunView()

    def on_mount(self) -> None:
        self.begin()  # (Textual calls on_mount of every class in the MRO: the subclass overrides begin)

    def begin(self) -> None:
        from ftui.core.runs import RunDirectory

        self.measured.start()
        self.query_one("RunView").attach(RunDirectory(self.run_dir))
        self.set_interval(0.1, self.check_done)
        self.set_timer(self.timeout, self.finish)

    def shown_lines(self) -> list[str]:
        from ftui.widgets.log_view import LogView

        return list(self.query_one(LogView).lines[-3:])

    def received(self) -> int:
        from ftui.widgets.log_view import LogView

        return self.query_one(LogView).lines_received

    def check_done(self) -> None:
        if any(line.startswith("END ") for line in self.shown_lines()):
            self.measured.ended = time.time()
            self.finish()

    def finish(self) -> None:
        report = self.measured.report(
            mode=type(self).__name__,
            lines_received=self.received(),
            last_line=(self.shown_lines() or [""])[-1],
        )
        self.out.write_text(json.dumps(report, indent=2))
        self.exit()


class NaiveHarness(RunViewHarness):
    """The same tail, one write_line per line into a plain Log (no batching, no bound on the buffer)."""

    def compose(self) -> ComposeResult:
        yield Log(max_lines=2000)

    def begin(self) -> None:
        from ftui.core.runs import RunDirectory

        self.run = RunDirectory(self.run_dir)
        self.offset = 0
        self.count = 0
        self.partial = ""
        self.measured.start()
        self.set_interval(0.5, self.tail)
        self.set_interval(0.1, self.check_done)
        self.set_timer(self.timeout, self.finish)

    def tail(self) -> None:
        log = self.query_one(Log)
        while True:
            text, offset = self.run.read_log(self.offset)
            if offset == self.offset:
                return
            self.offset = offset
            pieces = (self.partial + text.replace("\r", "\n")).split("\n")
            self.partial = pieces.pop()
            for piece in pieces:
                log.write_line(piece)
                self.count += 1

    def shown_lines(self) -> list[str]:
        return list(self.query_one(Log).lines[-3:])

    def received(self) -> int:
        return self.count


def ftui_app(run_dir: Path):  # type: ignore[no-untyped-def]
    """The whole app on the train step, attached to the run, the gauge on two moving stand-in H200s."""
    from ftui.app import FtuiApp
    from ftui.core.runs import RunDirectory
    from tests.fakes.nvml import FakeNvml, h200

    nvml = FakeNvml([h200(0), h200(1)], moving=True)

    class Attached(FtuiApp):
        def on_mount(self) -> None:
            super().on_mount()
            self.call_after_refresh(self.attach_run, RunDirectory(run_dir))

    return Attached(nvml=nvml, runs_dir=run_dir.parent, start="use_case")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("runview", "naive", "ftui"))
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out", type=Path, nargs="?")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    if args.mode == "ftui":
        ftui_app(args.run_dir).run(mouse=False)
        return
    harness = RunViewHarness if args.mode == "runview" else NaiveHarness
    harness(args.run_dir, args.out, args.timeout).run(mouse=False)


if __name__ == "__main__":
    main()
