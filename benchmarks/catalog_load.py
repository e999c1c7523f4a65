"""How long loading the catalog takes: `load_catalog()` alone, and a whole `ftui models --json` process.

Each figure is a fresh process, with and without ftui's catalog cache (FTUI_NO_CACHE=1 is what the first
run after an install pays), beside `python -c pass` (the interpreter's own start-up) in the same rounds.
Several source trees can be measured in the same rounds (`--tree before=/tmp/old-ftui --tree after=.`),
so that a burst of load on a shared machine hits both alike; each tree gets its own cache directory.
Beside the wall-clock time, the CPU time (user + system) each measure took: on a machine shared with
other work it moves far less than the wall clock does.

    python benchmarks/catalog_load.py [--rounds 40] [--tree NAME=PATH ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from cli_latency import cpu_name  # benchmarks/cli_latency.py, beside this script

FTUI = str(Path(sys.executable).parent / "ftui")
# Inside a fresh interpreter: importing the catalog module, then load_catalog() alone.
LOAD = """
import json, time
from ftui.core.catalog import load_catalog
t1, c1 = time.perf_counter(), time.process_time()
catalog = load_catalog()
t2, c2 = time.perf_counter(), time.process_time()
assert len(catalog.models) > 90
print(json.dumps({"load": (t2 - t1) * 1000, "load_cpu": (c2 - c1) * 1000}))
"""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall-clock and CPU milliseconds of one fresh process, and what it printed."""
    cpu, start = children_cpu(), time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env)
    elapsed, cpu = (time.perf_counter() - start) * 1000, children_cpu() - cpu
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return elapsed, cpu, result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--tree", action="append", default=[], help="NAME=PATH of an ftui source tree")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree) or {"this": str(Path(__file__).resolve().parents[1])}

    caches = {name: tempfile.mkdtemp(prefix=f"ftui-cache-{name}-") for name in trees}
    jobs: dict[str, tuple[list[str], dict[str, str], bool]] = {
        "python -c pass (floor)": ([sys.executable, "-c", "pass"], dict(os.environ), False)
    }
    for name, path in trees.items():
        base = {**os.environ, "PYTHONPATH": str(Path(path).resolve()), "XDG_CACHE_HOME": caches[name]}
        base.pop("FTUI_NO_CACHE", None)
        cold = {**base, "FTUI_NO_CACHE": "1"}
        jobs[f"{name}: ftui models --json, cached"] = ([FTUI, "models", "--json"], base, False)
        jobs[f"{name}: ftui models --json, FTUI_NO_CACHE=1"] = ([FTUI, "models", "--json"], cold, False)
        jobs[f"{name}: load_catalog(), cached"] = ([sys.executable, "-c", LOAD], base, True)
        jobs[f"{name}: load_catalog(), FTUI_NO_CACHE=1"] = ([sys.executable, "-c", LOAD], cold, True)

    for argv, env, _ in jobs.values():  # fills each tree's cache, warms the page cache and .pyc files
        timed(argv, env)
    samples: dict[str, list[float]] = {name: [] for name in jobs}
    cpu_samples: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(args.rounds):
        for name, (argv, env, inside) in jobs.items():
            elapsed, cpu, out = timed(argv, env)
            inner = json.loads(out) if inside else {}
            samples[name].append(inner.get("load", elapsed))
            cpu_samples[name].append(inner.get("load_cpu", cpu))

    floor = statistics.median(samples["python -c pass (floor)"])
    rows = []
    for name, values in samples.items():
        values.sort()
        median = statistics.median(values)
        inside = jobs[name][2]
        rows.append(
            {
                "measure": name,
                "median_ms": round(median, 1),
                "p10_ms": round(values[int(0.1 * (len(values) - 1))], 1),
                "p90_ms": round(values[int(0.9 * (len(values) - 1))], 1),
                "cpu_median_ms": round(statistics.median(cpu_samples[name]), 1),
                "cpu_p10_ms": round(sorted(cpu_samples[name])[int(0.1 * (len(values) - 1))], 1),
                "x_floor": None if inside else round(median / floor, 1),
            }
        )
    report = {
        "script": "benchmarks/catalog_load.py",
        "date": date.today().isoformat(),
        "machine": f"{cpu_name()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the end",
        "rounds": args.rounds,
        "trees": trees,
        "ms": "wall-clock median, p10, p90; cpu: user + system time, median and p10",
        "results": rows,
    }
    print(f"{'measure':52} {'median':>8} {'p10':>8} {'p90':>8} {'cpu':>8} {'cpu p10':>8} {'x floor':>8}")
    for row in rows:
        ratio = "" if row["x_floor"] is None else f"{row['x_floor']:8.1f}"
        print(
            f"{row['measure']:52} {row['median_ms']:8.1f} {row['p10_ms']:8.1f} {row['p90_ms']:8.1f} "
            f"{row['cpu_median_ms']:8.1f} {row['cpu_p10_ms']:8.1f} {ratio}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
