"""Time to first frame: ftui's first screen against a bare Textual app with one Static, in tmux.

Both are started the same way (a new session in one private tmux server, 80x24), and both are timed the
same way: from the `tmux new-session` call until capture-pane shows the app's text, polling every 2 ms.
Runs alternate between the two so that machine noise falls on both. Target: ftui within 1.3x the bare app.

    python benchmarks/tui_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.tmux_terminal import TmuxTerminal  # noqa: E402

PYTHON = sys.executable
APPS = {
    "bare Textual app (one Static)": (
        [PYTHON, str(ROOT / "benchmarks" / "tui_bare_app.py")],
        "bare textual app ready",
    ),
    # the first screen complete: the key bar at the bottom is drawn in the same frame as the question
    "ftui (first screen)": ([PYTHON, "-m", "ftui"], "Commands"),
}


def first_frame(term: TmuxTerminal, command: list[str], expected: str, runs_dir: str) -> float:
    start = time.perf_counter()
    term.start(" ".join(command), env={"FTUI_RUNS_DIR": runs_dir}, cwd=str(ROOT))
    term.wait_for(expected, timeout=30, interval=0.002)
    elapsed = time.perf_counter() - start
    term.kill_session()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in APPS}
    with TmuxTerminal(80, 24) as term:
        runs_dir = str(Path("/tmp") / f"ftui-bench-runs-{term.socket}")
        for command, expected in APPS.values():  # one warm-up each: file caches, .pyc
            first_frame(term, command, expected, runs_dir)
        for _ in range(args.runs):
            for name, (command, expected) in APPS.items():
                times[name].append(first_frame(term, command, expected, runs_dir))
    medians = {name: statistics.median(values) for name, values in times.items()}
    bare, ftui = medians.values()
    result = {
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, Python {platform.python_version()}",
        "runs": args.runs,
        "median_s": {name: round(value, 3) for name, value in medians.items()},
        "min_s": {name: round(min(values), 3) for name, values in times.items()},
        "ratio": round(ftui / bare, 3),
        "target": 1.3,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, value in medians.items():
            print(f"{name:32} median {value * 1000:6.0f} ms   min {min(times[name]) * 1000:6.0f} ms")
        print(f"ratio ftui / bare: {result['ratio']:.2f} (target <= 1.3)")
    return 0 if result["ratio"] <= 1.3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
