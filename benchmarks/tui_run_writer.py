"""Load for the TUI benchmarks: a process that writes a run directory the way a training run does.

It makes <runs>/<run-id>/ with a config.toml, a status.json that names this process (so that ftui sees a
live run), then appends to train.log at a fixed rate (transformers-style dict lines, tqdm redraws with
\\r, ANSI colours) and one metrics.jsonl record per "step". Last it writes "END <lines>" and the state
`completed`. It is a load generator for the view, not a stand-in for the trainer's logic.

    python benchmarks/tui_run_writer.py RUNS_DIR RUN_ID --rate 20000 --seconds 5
    python benchmarks/tui_run_writer.py RUNS_DIR RUN_ID --total 1000000 --rate 0      # as fast as it can
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_run(runs_dir: Path, run_id: str, max_steps: int) -> Path:
    import psutil

    from ftui.core.plan import TrainingSettings
    from ftui.core.run_config import RunConfig

    path = runs_dir / run_id
    path.mkdir(parents=True, exist_ok=True)
    RunConfig(
        model="Qwen/Qwen3-8B",
        data=str(ROOT / "assets/samples/alpaca_sample.jsonl"),
        settings=TrainingSettings(max_steps=max_steps),
    ).write(path / "config.toml")
    status = {
        "run_id": run_id,
        "state": "running",
        "phase": "training",
        "pid": os.getpid(),
        "pid_started": psutil.Process().create_time(),
        "step": 0,
        "max_steps": max_steps,
        "created_at": "2026-01-05T10:00:00+00:00",
        "started_at": "2026-01-05T10:00:05+00:00",
    }
    (path / "status.json").write_text(json.dumps(status))
    (path / "train.log").write_text("")
    (path / "metrics.jsonl").write_text("")
    return path


def line(n: int) -> str:
    kind = n % 10
    if kind < 6:
        return f"{{'loss': {2.5 * math.exp(-n / 50000) + 0.3:.4f}, 'grad_norm': 0.{n % 97:02d}, 'learning_rate': 0.0002, 'epoch': {n / 100000:.3f}}}\n"
    if kind < 9:
        bar = "#" * (n % 20)
        return f"\r {n % 100:3d}%|{bar:<20}| {n}/1000000 [00:{n % 60:02d}<01:00, 12.3it/s]"
    return f"\x1b[32mINFO\x1b[0m step {n}: [bold]checkpoint[/bold] saved\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs_dir", type=Path)
    parser.add_argument("run_id")
    parser.add_argument(
        "--rate", type=float, default=20000, help="log lines per second; 0: as fast as possible"
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--total", type=int, help="lines in all (wins over --seconds)")
    parser.add_argument("--step-every", type=float, default=1.0, help="seconds between metric records")
    parser.add_argument("--start-delay", type=float, default=0.0, help="seconds before the first line")
    args = parser.parse_args()
    total = args.total or int(args.rate * args.seconds)
    max_steps = max(1, int((total / args.rate if args.rate else 10) / args.step_every) + 1)
    path = make_run(args.runs_dir, args.run_id, max_steps)
    time.sleep(args.start_delay)
    started = time.monotonic()
    written = 0
    step = 0
    next_step = started
    with open(path / "train.log", "a", encoding="utf-8") as log, open(path / "metrics.jsonl", "a") as metrics:
        while written < total:
            now = time.monotonic()
            due = total if not args.rate else min(total, int((now - started) * args.rate) + 1)
            if due > written:
                count = min(due - written, 5000)
                log.write("".join(line(written + i) for i in range(count)))
                log.flush()
                written += count
            if now >= next_step:
                step += 1
                record = {
                    "time": round(time.time(), 3),
                    "kind": "train",
                    "step": step,
                    "max_steps": max_steps,
                    "loss": round(2.5 * math.exp(-step / 20) + 0.3, 4),
                    "tokens_per_second": 2450.0,
                }
                metrics.write(json.dumps(record) + "\n")
                metrics.flush()
                next_step += args.step_every
            if args.rate and due <= written:
                time.sleep(0.005)
        log.write(f"END {written}\n")
    status = json.loads((path / "status.json").read_text())
    status.update(state="completed", step=step, ended_at="2026-01-05T10:12:35+00:00")
    (path / "status.json").write_text(json.dumps(status))
    print(json.dumps({"lines": written, "seconds": round(time.monotonic() - started, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
