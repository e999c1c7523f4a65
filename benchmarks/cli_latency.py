"""How long `ftui advise`, `ftui models` and `ftui decode` take as whole processes (target: under 300 ms).

Each command runs as a fresh process through the installed `ftui` console script, the way a user (or a
shell script) calls it, with its output thrown away. `python -c pass` runs in the same rounds as the floor:
the interpreter's own start-up, which no ftui change can remove. Rounds interleave the commands so that
a burst of load on the machine hits all of them alike.

    python benchmarks/cli_latency.py [--rounds 30] [--json benchmarks/cli_latency.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

TARGET_MS = 300.0
FTUI = str(Path(sys.executable).parent / "ftui")
COMMANDS: dict[str, list[str]] = {
    "python -c pass (floor)": [sys.executable, "-c", "pass"],
    "ftui advise --rows 500 --gpu t4 --json": [FTUI, "advise", "--rows", "500", "--gpu", "t4", "--json"],
    "ftui models --json": [FTUI, "models", "--json"],
    "ftui decode unsloth/llama-3.1-8b-unsloth-bnb-4bit --json": [
        FTUI,
        "decode",
        "unsloth/llama-3.1-8b-unsloth-bnb-4bit",
        "--json",
    ],
}


# Where an `ftui advise` process spends its time, measured inside a fresh interpreter.
BREAKDOWN = """
import json, time
t0 = time.perf_counter()
import ftui.cli
t1 = time.perf_counter()
ftui.cli.build_parser()
t2 = time.perf_counter()
from ftui.core.catalog import load_catalog
catalog = load_catalog()
t3 = time.perf_counter()
from ftui.core.advice import advise
from ftui.core.plan import DatasetSummary, GpuChoice, Plan
advise(Plan(dataset=DatasetSummary("b", 500, "alpaca"), gpu=GpuChoice("T4", 15.0, False)), catalog)
t4 = time.perf_counter()
print(json.dumps({"import ftui.cli": t1 - t0, "find and register subcommands": t2 - t1,
                  "load and validate the catalog": t3 - t2, "advise()": t4 - t3}))
"""


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_once(argv: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = (time.perf_counter() - start) * 1000
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    for argv in COMMANDS.values():  # warm the page cache and .pyc files; not counted
        run_once(argv)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.rounds):
        for name, argv in COMMANDS.items():
            times[name].append(run_once(argv))

    parts: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        out = subprocess.run(
            [sys.executable, "-c", BREAKDOWN], capture_output=True, text=True, check=True
        ).stdout
        for part, seconds in json.loads(out).items():
            parts.setdefault(part, []).append(seconds * 1000)
    breakdown = {part: round(statistics.median(ms), 1) for part, ms in parts.items()}

    floor = statistics.median(times["python -c pass (floor)"])
    rows = []
    for name, samples in times.items():
        samples.sort()
        median = statistics.median(samples)
        p90 = samples[int(0.9 * (len(samples) - 1))]
        rows.append(
            {
                "command": name,
                "median_ms": round(median, 1),
                "p90_ms": round(p90, 1),
                "min_ms": round(samples[0], 1),
                "x_floor": round(median / floor, 1),
                "under_target": p90 < TARGET_MS,
            }
        )
    report = {
        "script": "benchmarks/cli_latency.py",
        "date": date.today().isoformat(),
        "machine": f"{cpu_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at the end",
        "rounds": args.rounds,
        "target_ms": TARGET_MS,
        "results": rows,
        "advise_breakdown_median_ms": breakdown,
    }
    print(f"{'command':58} {'median':>8} {'p90':>8} {'min':>8} {'x floor':>8}  <300ms")
    for row in rows:
        print(
            f"{row['command']:58} {row['median_ms']:8.1f} {row['p90_ms']:8.1f} {row['min_ms']:8.1f} "
            f"{row['x_floor']:8.1f}  {'yes' if row['under_target'] else 'NO'}"
        )
    print("inside `ftui advise` (median ms): " + ", ".join(f"{k} {v}" for k, v in breakdown.items()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(row["under_target"] for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
