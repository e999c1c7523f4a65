"""Merged and GGUF export of a QLoRA run of a real-dims model, on one GPU: time and disk.

  python benchmarks/export/bench.py --out DIR [--dims llama-3.1-8b] [--model-dir /dev/shm/ftui-export-model]
                                    [--work DIR] [--quants q8_0,q4_k_m] [--steps 10]

1. A Llama-3.1-8B-dims model with random bf16 weights, built on the GPU (nothing downloaded), with a
   small sentencepiece tokenizer (llama.cpp's converter reads it as it is; the vocabulary keeps all
   128,256 rows, padded). In --model-dir (RAM by default, so the disk holds the exports only).
2. The real `ftui train`: QLoRA r=16 (Unsloth loads the 16-bit folder in 4 bit), a few steps, with
   held-out prompts, so the run has an adapter and samples.jsonl.
3. The real `ftui export`: merged 16-bit, then GGUF for each type; each one's wall time, its record's
   phases, the size it wrote, the estimate it checked against the free space, and the peak disk use
   (sampled every 0.2 s on the filesystem of --work); each export is removed after it is measured.
Results: DIR/results.json and DIR/<export>.json (the export records, with the verification tables).
Needs: torch with CUDA, transformers, peft (the image); Unsloth, TRL, datasets (../shared/tools/gpu-site);
llama-cpp-python and llama.cpp's converter (benchmarks/export/prepare.sh). Disk: about 40 GB at the peak
of the q4_k_m export (merged 16 GB + f16 GGUF 16 GB + q4_k_m 4.9 GB) on --work; RAM: 16 GB for the model
in /dev/shm plus about 35 GB while merging in float32.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
GIB = 1024**3


def build_model(out: Path, dims: str) -> float:
    if (out / "config.json").exists() and any(out.glob("*.safetensors")):
        return 0.0
    from benchmarks.training.make_model import DIMS
    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.helpers.tiny_model import build_sentencepiece_tokenizer

    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_sentencepiece_tokenizer(out)
    config = LlamaConfig(
        **DIMS[dims],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = LlamaForCausalLM._from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(out, max_shard_size="5GB")
    del model
    return time.monotonic() - started


class DiskPeak:
    """The most disk used on a filesystem, sampled every 0.2 s, above what was used at the start."""

    def __init__(self, path: Path) -> None:
        self.path, self.peak, self._stop = path, 0, threading.Event()

    def __enter__(self) -> DiskPeak:
        self.start = shutil.disk_usage(self.path).used
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, shutil.disk_usage(self.path).used - self.start)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join()


def ftui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ftui", *args], capture_output=True, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--dims", default="llama-3.1-8b")
    parser.add_argument("--model-dir", type=Path, default=Path("/dev/shm/ftui-export-model"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/ftui-export-work"))
    parser.add_argument("--quants", default="q8_0,q4_k_m")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    runs = args.work / "runs"
    os.environ["FTUI_RUNS_DIR"] = str(runs)
    results: dict = {"dims": args.dims, "exports": []}

    results["build_model_s"] = round(build_model(args.model_dir, args.dims), 1)
    print(f"model in {args.model_dir} ({results['build_model_s']} s)", flush=True)
    data = args.work / "rows.jsonl"
    from tests.helpers.datasets import arithmetic_rows, write_jsonl

    write_jsonl(data, arithmetic_rows(200))
    started = time.monotonic()
    trained = ftui(
        "train", "--model", str(args.model_dir), "--data", str(data), "--method", "qlora",
        "--max-steps", str(args.steps), "--batch", "2", "--grad-accum", "1", "--seq", "256",
        "--template", "chatml", "--eval-split", "0.05", "--json",
    )  # fmt: skip
    if trained.returncode != 0:
        print(trained.stderr[-4000:], file=sys.stderr)
        return 1
    run = json.loads(trained.stdout)
    results["train_s"] = round(time.monotonic() - started, 1)
    results["run"] = {k: run.get(k) for k in ("run_id", "state", "method", "step", "peak_gpu_gib")}
    print(f"trained {run['run_id']} in {results['train_s']} s", flush=True)

    jobs = [("merged", None)] + [("gguf", q) for q in args.quants.split(",") if q]
    for fmt, quant in jobs:
        out = args.work / (f"{fmt}-{quant}" if quant else fmt)
        command = ["export", run["run_id"], "--format", fmt, "--out", str(out), "--json"]
        if quant:
            command += ["--quant", quant]
        started = time.monotonic()
        with DiskPeak(args.work) as disk:
            result = ftui(*command)
        wall = time.monotonic() - started
        record = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
        (args.out / f"{fmt}{'-' + quant if quant else ''}.json").write_text(json.dumps(record, indent=2))
        entry = {
            "format": fmt,
            "quant": quant,
            "state": record.get("state"),
            "error": record.get("error") or (result.stderr[-500:] if result.returncode else None),
            "wall_s": round(wall, 1),
            "export_s": record.get("seconds"),
            "phases": record.get("phases"),
            "size_gib": round((record.get("size_bytes") or 0) / GIB, 3),
            "estimate_final_gib": round((record.get("bytes_final_estimate") or 0) / GIB, 3),
            "estimate_peak_gib": round((record.get("bytes_needed") or 0) / GIB, 3),
            "disk_peak_gib": round(disk.peak / GIB, 3),
            "flagged": (record.get("verification") or {}).get("flagged"),
            "agreement": [
                {k: row.get(k) for k in ("merged_agreement", "gguf_agreement")}
                for row in (record.get("verification") or {}).get("rows", [])
            ],
        }
        results["exports"].append(entry)
        print(json.dumps(entry), flush=True)
        shutil.rmtree(out, ignore_errors=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
