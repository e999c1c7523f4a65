"""CPU of the TUI watching a live run with the GPU gauge, beside a bare Textual app, in tmux (80x24).

Both run side by side for --seconds (30) after a 5 s warm-up, each in its own tmux session; psutil reads
each process's CPU time (user + system) over the same window:
  ftui  the whole app on the train step, attached to a live run (benchmarks/tui_run_writer.py writes a
        trainer's output: 20 log lines/s with tqdm redraws and colour codes, a metrics record a second),
        the gauge reading two moving stand-in H200s (tests/fakes/nvml.py; there is no GPU here) every second
  bare  a Textual app with one Static, sitting still: what Textual itself costs
Target (issue 7): ftui averages at most 5% of one core.

    python benchmarks/tui_cpu.py [--seconds 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.tmux_terminal import TmuxTerminal  # noqa: E402

PYTHON = sys.executable
WARM_UP_S = 5.0


def cpu_seconds(pid: int) -> float:
    """CPU time of the process and its children (the app is the pane's process itself)."""
    process = psutil.Process(pid)
    total = sum(process.cpu_times()[:2])
    for child in process.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ftui-cpu-bench-") as tmp, TmuxTerminal(80, 24) as term:
        runs = Path(tmp) / "runs"
        writer = subprocess.Popen(
            [
                PYTHON,
                str(ROOT / "benchmarks/tui_run_writer.py"),
                str(runs),
                "live",
                "--rate",
                "20",
                "--seconds",
                str(args.seconds + WARM_UP_S + 30),
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            while not (runs / "live" / "status.json").exists():
                time.sleep(0.01)
            term.start(f"{PYTHON} {ROOT / 'benchmarks/tui_harness.py'} ftui {runs / 'live'}", cwd=str(ROOT))
            term.wait_for("GPU 1", timeout=30)  # the run view with the gauge of both stand-in GPUs
            ftui_pid = term.pid()
            ftui_screen = term.screen()
            term.start(f"{PYTHON} {ROOT / 'benchmarks/tui_bare_app.py'}", cwd=str(ROOT))
            term.wait_for("bare textual app ready")
            bare_pid = term.pid()
            time.sleep(WARM_UP_S)
            before = {"ftui": cpu_seconds(ftui_pid), "bare": cpu_seconds(bare_pid)}
            started = time.monotonic()
            time.sleep(args.seconds)
            elapsed = time.monotonic() - started
            after = {"ftui": cpu_seconds(ftui_pid), "bare": cpu_seconds(bare_pid)}
        finally:
            writer.kill()
    percent = {name: round(100 * (after[name] - before[name]) / elapsed, 2) for name in before}
    result = {
        "machine": f"{platform.node()}, {platform.machine()}, {psutil.cpu_count()} CPUs, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "seconds": round(elapsed, 1),
        "percent_of_one_core": percent,
        "ratio_ftui_over_bare": round(percent["ftui"] / max(percent["bare"], 0.01), 1),
        "target_percent": 5.0,
        "ftui_screen": ftui_screen,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(ftui_screen)
        print(
            f"ftui (live run + gauge): {percent['ftui']:.2f}% of one core; bare Textual app: {percent['bare']:.2f}%"
            f" (over {elapsed:.0f} s; target <= 5%)"
        )
    return 0 if percent["ftui"] <= 5.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
