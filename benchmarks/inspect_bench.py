"""Dataset inspector throughput against `wc -l` and `datasets.load_dataset("json")`, on the same file, in one run.

    python benchmarks/inspect_bench.py                # 1 GB Alpaca JSONL under .bench/ (made once)
    python benchmarks/inspect_bench.py --size-mb 200 --format messages --skip-datasets

Targets (issue 5): counting rows + detecting the format at >= 0.5x the throughput of `wc -l`; full
validation >= 100 MB/s; peak RSS < 300 MB. Each measurement runs in its own process; the peak RSS is
sampled (psutil, every 10 ms) over that process and all its children, summed, so forked workers
count in full (shared pages twice: a conservative figure). The file is read once beforehand so
every contender meets a warm page cache; times are the best of --repeat runs. Two times are given:
the whole process (interpreter start-up and imports included) and the operation alone (timed inside
the process after its imports, as in the running app).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"

WORDS = (
    "the model data train answer question write explain list name give short long first second because "
    "which when where water light energy city river number value function program memory colour music "
    "science history simple clear example result method reason people world time system small large "
    "quickly carefully always never often usually important different possible available"
).split()


def make_file(path: Path, size_mb: int, fmt: str, problems: bool) -> None:
    """Rows of varied length (about 100 B to 3 KB); with `problems`, a few of each kind sprinkled in."""
    rnd = random.Random(42)

    def sentence(low: int, high: int) -> str:
        return " ".join(rnd.choices(WORDS, k=rnd.randint(low, high))).capitalize() + "."

    pool = []
    for _ in range(20000):
        instruction, answer = sentence(4, 60), " ".join(sentence(5, 25) for _ in range(rnd.randint(1, 12)))
        context = sentence(5, 40) if rnd.random() < 0.3 else ""
        if fmt == "alpaca":
            tail = json.dumps({"input": context, "output": answer})[1:]
            pool.append((instruction, b'", ' + tail.encode()))
        else:
            turns = [{"role": "assistant", "content": answer}]
            tail = json.dumps(turns)[1:]  # after the first user turn's content
            pool.append((instruction, b'"}, ' + tail.encode() + b"}"))
    head = (
        b'{"instruction": "Task ' if fmt == "alpaca" else b'{"messages": [{"role": "user", "content": "Task '
    )
    target = size_mb * 1024 * 1024
    written = 0
    number = 0
    with open(path, "wb") as out:
        batch = []
        previous = b""
        while written < target:
            number += 1
            instruction, tail = pool[number % len(pool)]
            line = head + str(number).encode() + b": " + instruction.encode() + tail + b"\n"
            if not problems:
                pass
            elif number % 10007 == 0:
                line = line[: len(line) // 2] + b"\n"  # malformed JSON
            elif number % 5003 == 0 and fmt == "alpaca":
                line = line.replace(b'"output": "', b'"output": "  ", "x": "', 1)  # empty answer
            elif number % 2003 == 0 and previous:
                line = previous  # an exact duplicate
            elif number % 50021 == 0:
                line = line[:24] + b"\xff" + line[25:]  # a byte that is not UTF-8, inside the instruction
            previous = line
            batch.append(line)
            written += len(line)
            if len(batch) >= 20000:
                out.write(b"".join(batch))
                batch.clear()
        out.write(b"".join(batch))


def measure(command: list[str], repeat: int) -> dict:
    """Best wall time of `repeat` runs of a command, and the peak RSS of its process tree (MB)."""
    best: tuple[float, dict] | None = None
    peak, output = 0.0, ""
    for _ in range(repeat):
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        watched = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                tree = [watched, *watched.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()) / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        output = process.stdout.read() if process.stdout else ""
        if process.returncode != 0:
            errors = process.stderr.read().strip().splitlines() if process.stderr else []
            telling = [
                line for line in errors if "row" in line.lower() and "error" in line.lower()
            ] or errors[-1:]
            return {
                "seconds": elapsed,
                "peak_rss_mb": round(peak, 1),
                "failed": (telling[0] if telling else "")[:300],
            }
        try:  # the Python contenders report their own in-process time and result on the last line
            reported = json.loads(output.strip().splitlines()[-1])
        except (ValueError, IndexError):
            reported = {"stdout": output.strip()[:200]}
        if best is None or elapsed < best[0]:
            best = (elapsed, reported)
    return {"seconds": best[0], "peak_rss_mb": round(peak, 1), **best[1]}


COUNT = """
import json, sys, time
from pathlib import Path
imported = time.perf_counter()
import numpy, msgspec
from ftui.core.data.fast import count_lines
from ftui.core.data.convert import detect
from ftui.core.data.readers import open_source
started = time.perf_counter()
path = Path(sys.argv[1])
rows = count_lines(path)
detection = detect(open_source(path))
print(json.dumps({"in_process_seconds": time.perf_counter() - started, "import_seconds": started - imported,
                  "rows": rows, "format": detection.format}))
"""

VALIDATE = """
import json, sys, time
imported = time.perf_counter()
import numpy, msgspec
from ftui.core.data import inspect
import ftui.core.data.inspector, ftui.core.data.fast
started = time.perf_counter()
report = inspect(sys.argv[1])
print(json.dumps({"in_process_seconds": time.perf_counter() - started, "import_seconds": started - imported, "rows": report.rows,
                  "usable_rows": report.usable_rows, "problem_counts": report.problem_counts}))
"""

DATASETS = """
import json, sys, time
imported = time.perf_counter()
import datasets
datasets.disable_progress_bars()
started = time.perf_counter()
data = datasets.load_dataset("json", data_files=sys.argv[1], split="train", cache_dir=sys.argv[2])
print(json.dumps({"in_process_seconds": time.perf_counter() - started, "import_seconds": started - imported, "rows": len(data)}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--format", choices=("alpaca", "messages"), default="alpaca")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--skip-datasets", action="store_true", help="leave out the datasets.load_dataset peer (slow)"
    )
    args = parser.parse_args()

    BENCH.mkdir(exist_ok=True)
    clean = BENCH / f"{args.format}_{args.size_mb}mb.jsonl"
    dirty = BENCH / f"{args.format}_{args.size_mb}mb_with_problems.jsonl"
    for path, problems in ((clean, False), (dirty, True)):
        if not path.exists():
            print(f"writing {path} ...", file=sys.stderr)
            make_file(path, args.size_mb, args.format, problems)
    size = clean.stat().st_size

    python = sys.executable
    load_before = os.getloadavg()
    results: dict[str, dict] = {}

    def run(name: str, command: list[str], repeat: int, path: Path) -> None:
        with open(path, "rb") as handle:  # a warm page cache for every contender
            while handle.read(1 << 24):
                pass
        print(f"{name} ...", file=sys.stderr)
        results[name] = measure(command, repeat)
        results[name]["file"] = path.name

    run("wc -l", ["wc", "-l", str(clean)], args.repeat, clean)
    run("ftui count + detect", [python, "-c", COUNT, str(clean)], args.repeat, clean)
    run("ftui inspect (full validation)", [python, "-c", VALIDATE, str(clean)], args.repeat, clean)
    run("ftui inspect, file with problems", [python, "-c", VALIDATE, str(dirty)], args.repeat, dirty)
    if not args.skip_datasets:
        for name, path in (
            ('datasets.load_dataset("json")', clean),
            ('datasets.load_dataset("json"), file with problems', dirty),
        ):
            cache = Path(tempfile.mkdtemp(prefix="hf-datasets-", dir=BENCH))
            try:
                run(name, [python, "-c", DATASETS, str(path), str(cache)], 1, path)
            finally:
                shutil.rmtree(cache, ignore_errors=True)

    wc = results["wc -l"]["seconds"]
    for result in results.values():
        result["mb_per_s"] = round(size / 2**20 / result["seconds"], 1)
        result["throughput_vs_wc"] = round(wc / result["seconds"], 3)
        if "in_process_seconds" in result:  # the operation alone, after interpreter start-up and imports
            result["in_process_mb_per_s"] = round(size / 2**20 / result["in_process_seconds"], 1)
            result["in_process_vs_wc"] = round(wc / result["in_process_seconds"], 3)
    summary = {
        "file": str(clean.relative_to(ROOT)),
        "bytes": size,
        "format": args.format,
        "date": date.today().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, Python {platform.python_version()}",
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "results": results,
    }
    out = BENCH / f"inspect_results_{args.format}_{args.size_mb}mb.json"
    out.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    print()
    print(
        "| contender | whole process (s) | MB/s | vs `wc -l` | operation alone (s) | MB/s | vs `wc -l` | peak RSS (MB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, result in results.items():
        alone = result.get("in_process_seconds")
        inner = (
            f"{alone:.2f} | {result['in_process_mb_per_s']:,.0f} | {result['in_process_vs_wc']:.2f}x"
            if alone
            else "| |"
        )
        note = f" (failed: {result['failed']})" if "failed" in result else ""
        print(
            f"| {name}{note} | {result['seconds']:.2f} | {result['mb_per_s']:,.0f} | {result['throughput_vs_wc']:.2f}x | {inner} | {result['peak_rss_mb']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
