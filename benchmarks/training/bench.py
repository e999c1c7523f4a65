"""ftui's training recipe against plain transformers + PEFT + TRL, in one session on one GPU.

  python benchmarks/training/bench.py --out DIR [--dims llama-3.1-8b] [--steps 20] [--work /dev/shm/ftui-bench]

1. The GPU's bf16 matrix rate, measured here (8192^3 products), as the MFU denominator.
2. A Llama-3.1-8B-dims model with random weights (make_model.py), and text rows longer than the sequence
   length, so that every sequence is filled to 2048 tokens.
3. ftui: the real `ftui train` (QLoRA r=16, micro-batch 2, sequence 2048, ftui's defaults otherwise).
4. The peer: plain_peft.py (transformers + PEFT + TRL, bitsandbytes NF4), the same model, data, settings.
Each runs in its own process while a thread samples the GPU's memory through NVML every 20 ms; peak is
the highest sample minus the idle baseline. Tokens/s comes from each run's per-step token counts after
the warm-up steps. Results: DIR/results.json, and a line per run printed as it finishes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
GIB = 1024**3
WARMUP = 5  # steps left out of the rate (Triton compiles, allocator warm-up)


class NvmlSampler:
    """Device memory used, sampled every 20 ms in a thread: (time, GiB) pairs."""

    def __init__(self, index: int | None = None):
        import pynvml

        pynvml.nvmlInit()
        self.nvml = pynvml
        # NVML numbers GPUs as the driver does (CUDA_VISIBLE_DEVICES does not renumber them): NVML_INDEX
        # names the card when a job runs on another than the first, as measure.py's NvmlPeak reads it.
        index = int(os.environ.get("NVML_INDEX", "0")) if index is None else index
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()

    def used(self) -> float:
        return self.nvml.nvmlDeviceGetMemoryInfo(self.handle).used / GIB

    def __enter__(self) -> NvmlSampler:
        self.baseline = self.used()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self.used()))
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join()

    def peak(self, since: float = 0.0) -> float:
        values = [gib for t, gib in self.samples if t >= since]
        return round(max(values, default=self.baseline) - self.baseline, 3)


def matmul_tflops(n: int = 8192, repeats: int = 10) -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        a @ b
    end.record()
    torch.cuda.synchronize()
    seconds = start.elapsed_time(end) / 1000 / repeats
    del a, b
    torch.cuda.empty_cache()
    return round(2 * n**3 / seconds / 1e12, 1)


def write_data(path: Path, rows: int, words: int) -> Path:
    vocabulary = (
        "the a of to in is what how name capital color number big small red green blue cat dog bird "
        "fish tree river city one two three four five six seven eight nine ten plus minus equals"
    ).split()
    rng = random.Random(0)
    with open(path, "w") as handle:
        for _ in range(rows):
            handle.write(json.dumps({"text": " ".join(rng.choice(vocabulary) for _ in range(words))}) + "\n")
    return path


def rate(records: list[dict], seq_tokens: int) -> dict:
    """Tokens per second over the steps after the warm-up, from cumulative token counts and times."""
    train = [r for r in records if r.get("num_tokens") is not None and r.get("step")]
    steady = [r for r in train if r["step"] > WARMUP]
    if len(steady) < 2:
        return {"tokens_per_second": None, "steps_measured": len(steady)}
    first, last = steady[0], steady[-1]
    tokens = last["num_tokens"] - first["num_tokens"]
    seconds = last["time"] - first["time"]
    return {
        "tokens_per_second": round(tokens / seconds, 1),
        "steps_measured": last["step"] - first["step"],
        "tokens_per_step": round(tokens / (last["step"] - first["step"])),
        "seconds_per_step": round(seconds / (last["step"] - first["step"]), 4),
        "filled": tokens / (last["step"] - first["step"]) == seq_tokens,
    }


def flops_per_token(dims: dict, seq: int) -> float:
    """Model FLOPs per trained token, the PaLM convention: 6 x (parameters that multiply, i.e. all but the
    input embedding) + 12 x layers x hidden x sequence for attention. A QLoRA step skips the frozen
    weights' gradients, so this is the full fine-tuning count: the usual way MFU is quoted."""
    h, i, layers, v = (
        dims["hidden_size"],
        dims["intermediate_size"],
        dims["num_hidden_layers"],
        dims["vocab_size"],
    )
    kv = dims["num_key_value_heads"] * h // dims["num_attention_heads"]
    per_layer = h * h * 2 + h * kv * 2 + 3 * h * i
    matmul_params = layers * per_layer + v * h  # plus the LM head
    return 6 * matmul_params + 12 * layers * h * seq


def _wait_for_exit(pid: int | None, timeout: float = 120) -> None:
    """The next measurement starts only when the last training process has let go of the GPU."""
    import psutil

    deadline = time.monotonic() + timeout
    while pid and time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.2)


def _wait_for_idle(sampler_cls, timeout: float = 60) -> None:
    """Until the GPU's used memory stops falling (a process that just exited may still be releasing it)."""
    if sampler_cls is _NoSampler:
        return
    probe = sampler_cls()
    deadline, last = time.monotonic() + timeout, probe.used()
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = probe.used()
        if abs(now - last) < 0.05:
            return
        last = now


def run_ftui(args: argparse.Namespace, model: Path, data: Path, sampler_cls) -> dict:
    runs = args.work / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "ftui",
        "train",
        "--model",
        str(model),
        "--data",
        str(data),
        "--method",
        "qlora",
        "--rank",
        "16",
        "--alpha",
        "16",
        "--batch",
        "2",
        "--grad-accum",
        "1",
        "--seq",
        str(args.seq),
        "--max-steps",
        str(args.steps),
        "--save-steps",
        "100000",
        "--template",
        "chatml",
        "--runs-dir",
        str(runs),
        "--json",
    ]
    if args.optim:
        command += ["--optimizer", args.optim]
    started = time.time()
    with sampler_cls() as sampler:
        result = subprocess.run(
            command, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    if result.returncode != 0:
        print(result.stderr[-4000:], flush=True)
        raise SystemExit(f"ftui train failed ({result.returncode})")
    summary = json.loads(result.stdout)
    run_dir = Path(summary["path"])
    _wait_for_exit(json.loads((run_dir / "status.json").read_text()).get("pid"))
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    train = [r for r in records if r.get("kind") == "train"]
    suffix = f"_{args.attempt}" if args.attempt > 1 else ""
    shutil.copy(run_dir / "metrics.jsonl", args.out / f"ftui_metrics{suffix}.jsonl")
    shutil.copy(run_dir / "train.log", args.out / f"ftui_train{suffix}.log")
    first_logged = train[0]["time"] if train else started
    return {
        "stack": "ftui (Unsloth)",
        "nvml_baseline_gib": round(sampler.baseline, 3),
        "wall_s": round(time.time() - started, 1),
        **rate(train, 2 * args.seq),
        "peak_gib_training": sampler.peak(since=first_logged),
        "peak_gib_process": sampler.peak(),
        "torch_peak_gib_reported": train[-1].get("gpu_peak_gib") if train else None,
        "final_loss": train[-1].get("loss") if train else None,
    }


def run_plain(args: argparse.Namespace, model: Path, data: Path, sampler_cls) -> dict:
    metrics = args.out / "plain_metrics.jsonl"
    command = [
        sys.executable,
        str(ROOT / "benchmarks/training/plain_peft.py"),
        "--model",
        str(model),
        "--data",
        str(data),
        "--steps",
        str(args.steps),
        "--seq",
        str(args.seq),
        "--metrics",
        str(metrics),
    ]
    if args.optim:
        command += ["--optim", args.optim]
    if args.no_4bit_peer:
        command += ["--no-4bit"]
    started = time.time()
    with sampler_cls() as sampler:
        result = subprocess.run(command, capture_output=True, text=True)
    (args.out / "plain_train.log").write_text(result.stdout[-200_000:] + result.stderr[-200_000:])
    if result.returncode != 0:
        print(result.stderr[-4000:], flush=True)
        raise SystemExit(f"plain peft failed ({result.returncode})")
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line]
    first_logged = records[0]["time"] if records else started
    return {
        "stack": "transformers + peft + trl",
        "nvml_baseline_gib": round(sampler.baseline, 3),
        "wall_s": round(time.time() - started, 1),
        **rate(records, 2 * args.seq),
        "peak_gib_training": sampler.peak(since=first_logged),
        "peak_gib_process": sampler.peak(),
        "torch_peak_gib_reported": records[-1].get("torch_peak_gib"),
        "final_loss": records[-1].get("loss") if records else None,
    }


class _NoSampler:
    """On a machine without NVML (the CPU rehearsal): no memory figures."""

    baseline = 0.0

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def peak(self, since: float = 0.0) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dims", default="llama-3.1-8b")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--optim", default=None, help="override the optimizer (CPU rehearsal: adamw_torch)")
    parser.add_argument("--no-4bit-peer", action="store_true", help="CPU rehearsal: the peer in 16 bit")
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument(
        "--order",
        default="ftui,plain",
        help="the runs, in order; e.g. ftui,plain,ftui measures ftui twice around the peer, so that a "
        "drift between runs shows instead of hiding in one ratio",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.work is None:
        shm = shutil.disk_usage("/dev/shm").free / GIB if os.path.isdir("/dev/shm") else 0
        args.work = Path("/dev/shm/ftui-bench" if shm > 40 else "/tmp/ftui-bench")
    args.work.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "dims": args.dims,
        "seq": args.seq,
        "micro_batch": 2,
        "rank": 16,
        "steps": args.steps,
        "warmup_steps_excluded": WARMUP,
        "work": str(args.work),
    }

    def save() -> None:
        (args.out / "results.json").write_text(json.dumps(results, indent=2))

    try:
        import torch

        results["gpu"] = (
            torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU rehearsal)"
        )
        results["torch"] = torch.__version__
        results["bf16_matmul_tflops"] = matmul_tflops()
        print(f"bf16 matmul: {results['bf16_matmul_tflops']} TFLOP/s on {results['gpu']}", flush=True)
        del torch
        save()
        sampler_cls = NvmlSampler if results["gpu"] != "none (CPU rehearsal)" else _NoSampler
        started = time.time()
        from benchmarks.training.make_model import DIMS, build

        model = build(
            args.work / f"model-{args.dims}", args.dims, "cuda" if sampler_cls is NvmlSampler else "cpu"
        )
        results["model_build_s"] = round(time.time() - started, 1)
        data = write_data(args.work / "data.jsonl", rows=2 * args.steps + 8, words=int(args.seq * 1.3))
        flops = flops_per_token(DIMS[args.dims], args.seq)
        results["flops_per_token"] = flops
        save()
        runners = {"ftui": run_ftui, "plain": run_plain}
        order = [name for name in args.order.split(",") if not (args.skip_plain and name == "plain")]
        attempts: dict[str, list[dict]] = {}
        for name in order:
            args.attempt = len(attempts.get(name, [])) + 1
            _wait_for_idle(sampler_cls)
            result = runners[name](args, model, data, sampler_cls)
            if result.get("tokens_per_second") and results.get("bf16_matmul_tflops"):
                result["mfu"] = round(
                    result["tokens_per_second"] * flops / (results["bf16_matmul_tflops"] * 1e12), 4
                )
            attempts.setdefault(name, []).append(result)
            results[name] = result if len(attempts[name]) == 1 else attempts[name]
            print(json.dumps(result), flush=True)
            save()
        ftui_runs, plain_runs = attempts.get("ftui", []), attempts.get("plain", [])
        if ftui_runs and plain_runs and all(r.get("tokens_per_second") for r in ftui_runs + plain_runs):
            # Every ftui run against every plain run: the ratio's spread across runs, not one draw.
            mean = lambda runs, key: sum(r[key] for r in runs) / len(runs)  # noqa: E731
            ratios = [f["tokens_per_second"] / p["tokens_per_second"] for f in ftui_runs for p in plain_runs]
            results["speedup"] = round(
                mean(ftui_runs, "tokens_per_second") / mean(plain_runs, "tokens_per_second"), 3
            )
            results["speedup_range"] = [round(min(ratios), 3), round(max(ratios), 3)]
            if all(r.get("peak_gib_training") for r in ftui_runs + plain_runs):
                results["memory_ratio"] = round(
                    max(r["peak_gib_training"] for r in ftui_runs)
                    / min(r["peak_gib_training"] for r in plain_runs),
                    3,
                )
                results["memory_ratio_process"] = round(
                    max(r["peak_gib_process"] for r in ftui_runs)
                    / min(r["peak_gib_process"] for r in plain_runs),
                    3,
                )
            print(
                f"speedup {results['speedup']}x (range {results['speedup_range']}), "
                f"memory {results.get('memory_ratio')}x",
                flush=True,
            )
        save()
    finally:
        save()


if __name__ == "__main__":
    main()
