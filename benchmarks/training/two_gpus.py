"""A two-GPU run through the real `ftui train --gpus 0,1` (torchrun, one model copy per GPU), on a small
Llama built here: checks that it completes, that metrics come from rank 0 alone (each step once), and
that the adapter was saved.   python benchmarks/training/two_gpus.py --out DIR
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from tests.helpers.tiny_model import build_tiny_llama

    model = build_tiny_llama(
        args.out / "tiny-llama", layers=4, hidden=256, intermediate=512, heads=8, kv_heads=4
    )
    command = [
        sys.executable,
        "-m",
        "ftui",
        "train",
        "--model",
        str(model),
        "--data",
        str(ROOT / "assets/samples/alpaca_sample.jsonl"),
        "--method",
        "lora",
        "--gpus",
        "0,1",
        "--max-steps",
        str(args.steps),
        "--batch",
        "2",
        "--seq",
        "256",
        "--runs-dir",
        str(args.out / "runs"),
        "--json",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    (args.out / "ftui_train_stdout.txt").write_text(
        result.stdout + "\n--- stderr ---\n" + result.stderr[-20000:]
    )
    summary = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    run_dir = Path(summary.get("path", args.out / "runs"))
    records = (
        [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        if (run_dir / "metrics.jsonl").exists()
        else []
    )
    steps = Counter(r["step"] for r in records if r.get("kind") == "train")
    report = {
        "returncode": result.returncode,
        "state": summary.get("state"),
        "command": json.loads((run_dir / "status.json").read_text()).get("command")
        if (run_dir / "status.json").exists()
        else None,
        "train_steps_logged": len(steps),
        "each_step_once": bool(steps) and set(steps.values()) == {1},
        "adapter_saved": (run_dir / "adapter" / "adapter_config.json").exists(),
        "gpu_mem_gib_last": next(
            (r.get("gpu_mem_gib") for r in reversed(records) if r.get("kind") == "train"), None
        ),
        "tokens_per_second_last": next(
            (r.get("tokens_per_second") for r in reversed(records) if r.get("kind") == "train"), None
        ),
        "loss_first_last": [
            next((r["loss"] for r in records if "loss" in r), None),
            next((r["loss"] for r in reversed(records) if "loss" in r), None),
        ],
    }
    (args.out / "two_gpus.json").write_text(json.dumps(report, indent=2))
    if (run_dir / "train.log").exists():
        (args.out / "train.log").write_text((run_dir / "train.log").read_text()[-200000:])
    print(json.dumps(report, indent=2))
    return 0 if report["state"] == "completed" and report["each_step_once"] and report["adapter_saved"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
