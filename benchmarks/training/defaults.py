"""ftui's defaults against Unsloth as its notebooks use it, and against plain transformers + PEFT + TRL, on
data with a real length distribution (issue 17), in one call on one GPU.

  python benchmarks/training/defaults.py --out DIR [--steps 25] [--full-steps 15] [--budget-s 450] [--runs ...]

Expected runtime on one H200: about 7 minutes (a Qwen3-8B-dims model built once, ~25 s; five runs of
~50-90 s each, each in its own process, most of it Unsloth's import and the 4-bit load). Every run is
written to DIR/results.json the moment it ends; a run that fails or runs out of memory is recorded with the
end of its log, and the next one still runs; a run that would start with less than 100 s of --budget-s
left is skipped and recorded as skipped, and a run still going 120 s past the budget is stopped.

Runs (Qwen3-8B dims, QLoRA r=16 on all linear layers, sequence 2048, 8 rows a step, the same steps, seed):
  ftui-real      the real `ftui train`, its defaults: ftui splits the 8 rows a step (--effective-batch 8)
                 into the micro-batch x accumulation it estimates fastest for the GPU; Unsloth padding-free
  notebook-real  Unsloth as its notebooks use it (unsloth_notebook.py): micro-batch 2 x accumulation 4
  plain-real     transformers + PEFT + TRL as their docs set it up (plain_peft.py), TRL's default padding
                 (each micro-batch padded to its longest row), micro-batch 2 x accumulation 4
  ftui-full      as ftui-real, every row filled to 2048 tokens (the GPU-bound case)
  ftui-split-real  (only when asked for with --runs) ftui-real at the notebook's split, --batch 2
                 --grad-accum 4: whether ftui's loss curve differs from the notebook's because of the split
                 (2026-11-30: ftui at 8 x 1 fell much faster than the notebook at 2 x 4 on the same rows;
                 equal on CPU, so GPU-only: with UNSLOTH_PADDING_CHOICE=padded in the environment every run
                 here uses padded batches, which tells whether Unsloth's padding-free batches are the cause;
                 split_gradient.py compares the first step's gradient directly)
  notebook-split-real  (only when asked for) the notebook script at ftui's 8 x 1: with ftui-split-real, the
                 four corners of {ftui, notebook} x {8 x 1, 2 x 4}, which say whether the split or the script
                 moves the loss curve on the GPU
  notebook-full  as notebook-real, every row filled to 2048 tokens
"-real" rows follow the length distribution of lengths.py's profile (Alpaca by default).

Targets (issue 17): ftui / notebook tokens/s >= 1.25 with equal loss curves (the same rows make each step,
in the same order) and peak memory within the card; ftui / plain real (non-padding) tokens/s >= 2.
Tokens/s: each trainer's own count of non-padding tokens over the steps after the first 5 (compilation and
warm-up), over the wall time between those steps' logs. Peak: the card's NVML used memory, sampled every
20 ms during the run, minus the idle baseline before it.

The tables for BENCHMARKS.md, from a results folder (ratios first):
  python benchmarks/training/defaults.py --table DIR

CPU rehearsal (a tiny model, same code path):
  python benchmarks/training/defaults.py --out /tmp/defaults --dims tiny --steps 8 --method lora \\
      --optim adamw_torch --no-4bit-peer --work /tmp/defaults-work
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.training.bench import (  # noqa: E402
    GIB,
    NvmlSampler,
    _NoSampler,
    _wait_for_exit,
    _wait_for_idle,
    matmul_tflops,
    write_data,
)

WARMUP = 5  # steps left out of the rate
ROWS_A_STEP = 8  # the notebooks' 2 x 4
RUNS = ("ftui-real", "notebook-real", "plain-real", "ftui-full", "notebook-full")
EXTRA_RUNS = ("ftui-split-real", "notebook-split-real")
TARGETS = {"ftui_vs_notebook": 1.25, "ftui_vs_plain_real": 2.0}


def rate(records: list[dict]) -> dict:
    """Non-padding tokens per second over the steps after WARMUP, from each step's cumulative count."""
    steady = [r for r in records if r.get("step", 0) > WARMUP and r.get("num_tokens") is not None]
    if len(steady) < 2:
        return {"tokens_per_second": None, "steps_measured": len(steady)}
    first, last = steady[0], steady[-1]
    steps = last["step"] - first["step"]
    tokens = last["num_tokens"] - first["num_tokens"]
    seconds = last["time"] - first["time"]
    return {
        "tokens_per_second": round(tokens / seconds, 1),
        "steps_measured": steps,
        "tokens_per_step": round(tokens / steps),
        "seconds_per_step": round(seconds / steps, 4),
    }


def losses(records: list[dict]) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in records if r.get("loss") is not None and r.get("step")}


def compare_losses(a: dict[int, float], b: dict[int, float]) -> dict | None:
    """How far apart two loss curves are, step by step (the same rows make each step in both)."""
    steps = sorted(set(a) & set(b))
    if not steps:
        return None
    gaps = [abs(a[s] - b[s]) / max(abs(b[s]), 1e-9) for s in steps]
    tail = steps[-5:]
    return {
        "steps": len(steps),
        "median_relative_gap": round(statistics.median(gaps), 4),
        "max_relative_gap": round(max(gaps), 4),
        "first": [round(a[steps[0]], 4), round(b[steps[0]], 4)],
        "last5_mean": [
            round(statistics.fmean(a[s] for s in tail), 4),
            round(statistics.fmean(b[s] for s in tail), 4),
        ],
    }


def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def run_process(command: list[str], timeout: float, sampler_cls, log: Path, env: dict | None = None) -> dict:
    """Run one trainer process under the sampler; its output to `log`; never raises for the run's failure."""
    started = time.time()
    with sampler_cls() as sampler, log.open("w") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
        )
        try:
            code = process.wait(timeout=max(timeout, 30))
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the session this run was started in, and only it
            code, timed_out = process.wait(), True
    return {
        "returncode": code,
        "timed_out": timed_out,
        "wall_s": round(time.time() - started, 1),
        "nvml_baseline_gib": round(sampler.baseline, 3),
        "sampler": sampler,
    }


def ftui_run(args, name: str, data: Path, timeout: float, sampler_cls) -> dict:  # type: ignore[no-untyped-def]
    runs = args.work / f"runs-{name}"
    shutil.rmtree(runs, ignore_errors=True)
    command = [
        sys.executable, "-m", "ftui", "train", "--model", str(args.model), "--data", str(data),
        "--method", args.method, "--rank", "16", "--alpha", "16", "--seq", str(args.seq),
        "--max-steps", str(args.run_steps), "--save-steps", "100000",
        "--template", "chatml", "--runs-dir", str(runs), "--json",
    ]  # fmt: skip
    # ftui's choice of split for 8 rows a step, or (ftui-split-*) the notebook's 2 x 4, given by the user
    split = (
        ["--batch", "2", "--grad-accum", "4"] if "split" in name else ["--effective-batch", str(ROWS_A_STEP)]
    )
    command += split
    if args.optim:
        command += ["--optimizer", args.optim]
    log = args.out / f"{name}.log"
    result = run_process(command, timeout, sampler_cls, log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    run_dirs = sorted(runs.glob("*/metrics.jsonl"))
    if result["timed_out"] and run_dirs:  # the trainer is detached: stop it too
        status = json.loads((run_dirs[0].parent / "status.json").read_text())
        if status.get("pid"):
            try:
                os.killpg(int(status["pid"]), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    records = []
    if run_dirs:
        shutil.copy(run_dirs[0], args.out / f"{name}-metrics.jsonl")
        shutil.copy(run_dirs[0].parent / "train.log", args.out / f"{name}-train.log")
        records = [r for r in read_jsonl(run_dirs[0]) if r.get("kind") == "train"]
        status = json.loads((run_dirs[0].parent / "status.json").read_text())
        _wait_for_exit(status.get("pid"))
        config = (run_dirs[0].parent / "config.toml").read_text()
        result["config_training"] = config[config.find("[training]") :]
    text = log.read_text(errors="replace")
    result["batch_choice"] = next((line for line in text.splitlines() if line.startswith("Batch: ")), None)
    return finish(result, records, text)


def peer_run(args, name: str, script: str, data: Path, timeout: float, sampler_cls) -> dict:  # type: ignore[no-untyped-def]
    metrics = args.out / f"{name}-metrics.jsonl"
    # the notebooks' 2 x 4, or (notebook-split-*) ftui's 8 x 1 given to the notebook script
    split = (
        ["--batch", str(ROWS_A_STEP), "--grad-accum", "1"]
        if "split" in name
        else ["--batch", "2", "--grad-accum", "4"]
    )
    command = [
        sys.executable, str(ROOT / "benchmarks" / "training" / script), "--model", str(args.model),
        "--data", str(data), "--steps", str(args.run_steps), "--seq", str(args.seq), "--metrics", str(metrics),
        *split,
    ]  # fmt: skip
    if args.optim:
        command += ["--optim", args.optim]
    if args.no_4bit_peer:
        command += ["--no-4bit"]
    if args.notebook_bos and script == "unsloth_notebook.py":
        command += ["--bos"]
    log = args.out / f"{name}.log"
    result = run_process(command, timeout, sampler_cls, log)
    return finish(result, read_jsonl(metrics), log.read_text(errors="replace"))


def finish(result: dict, records: list[dict], text: str) -> dict:
    sampler = result.pop("sampler")
    first_logged = records[0]["time"] if records else 0.0
    result.update(rate(records))
    result["peak_gib_training"] = sampler.peak(since=first_logged)
    result["peak_gib_process"] = sampler.peak()
    result["steps_logged"] = len(records)
    result["final_loss"] = records[-1].get("loss") if records else None
    result["losses"] = losses(records)
    if result["returncode"] != 0 or not records:
        tail = text[-3000:]
        result["error_tail"] = tail
        result["oom"] = "out of memory" in tail.lower()
    return result


def table(folder: Path) -> str:
    """BENCHMARKS.md's tables from a results.json: the ratios against the targets, then each run."""
    results = json.loads((folder / "results.json").read_text())
    summary, runs = results.get("summary", {}), results["runs"]
    card = results.get("gpu_memory_gib")

    def ratio(key: str, target: float) -> str:
        value = summary.get(key)
        if value is None:
            return f"not measured (target >= {target:g}x)"
        return f"**{value:.2f}x** (target >= {target:g}x: {'met' if value >= target else 'not met'})"

    def curves(key: str) -> str:
        c = summary.get(key)
        if not c:
            return "—"
        return (
            f"median gap {c['median_relative_gap']:.1%}, largest {c['max_relative_gap']:.1%} over {c['steps']} steps; "
            f"last 5 steps {c['last5_mean'][0]:.3f} vs {c['last5_mean'][1]:.3f}"
        )

    real = results.get("data_real", {})
    q = real.get("quantiles", {})
    lines = [
        "| comparison | tokens/s ratio | loss curves |",
        "| --- | --- | --- |",
        f"| ftui / Unsloth notebook, {real.get('profile', '?')} lengths | "
        f"{ratio('ftui_vs_notebook_real', TARGETS['ftui_vs_notebook'])} | {curves('loss_ftui_vs_notebook_real')} |",
        f"| ftui / Unsloth notebook, rows filled to {results['seq']} | "
        f"{ratio('ftui_vs_notebook_full', TARGETS['ftui_vs_notebook'])} | {curves('loss_ftui_vs_notebook_full')} |",
        f"| ftui / transformers + PEFT + TRL (padded), {real.get('profile', '?')} lengths, real tokens | "
        f"{ratio('ftui_vs_plain_real', TARGETS['ftui_vs_plain_real'])} | {curves('loss_ftui_vs_plain_real')} |",
    ]
    for key, what in (
        ("loss_ftui_split_vs_notebook_real", "ftui at 2 x 4 / Unsloth notebook (2 x 4), loss only"),
        ("loss_ftui_split_vs_ftui_real", "ftui at 2 x 4 / ftui at its own split, loss only"),
        ("loss_notebook_split_vs_ftui_real", "Unsloth notebook at 8 x 1 / ftui at its own split, loss only"),
        ("loss_notebook_split_vs_notebook_real", "Unsloth notebook at 8 x 1 / at 2 x 4, loss only"),
    ):
        if summary.get(key):
            lines.append(f"| {what} | — | {curves(key)} |")
    lines += [
        "",
        f"Rows: {real.get('rows', '?')} drawn to {real.get('source', '?')}: mean {real.get('mean_tokens', '?')} tokens, "
        f"p10/p50/p90/p99 {q.get('p10')}/{q.get('p50')}/{q.get('p90')}/{q.get('p99')}, longest {real.get('max_tokens')}.",
        "",
        "| run | split (micro-batch x accumulation) | tokens/s (non-padding) | s/step | peak GPU memory (NVML) | final loss |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for name in RUNS + EXTRA_RUNS:
        run = runs.get(name)
        if run is None:
            continue
        if "skipped" in run or "error" in run and "returncode" not in run:
            lines.append(f"| {name} | {run.get('skipped') or run.get('error')} | | | | |")
            continue
        split = "2 x 4"
        if name == "notebook-split-real":
            split = f"{ROWS_A_STEP} x 1 (given: ftui's)"
        elif "split" in name:
            split = "2 x 4 (given: the notebook's)"
        elif name.startswith("ftui"):
            found = re.search(r"Micro-batch (\d+) x accumulation (\d+)", run.get("batch_choice") or "")
            split = f"{found.group(1)} x {found.group(2)} (ftui's choice)" if found else "?"
        failed = "" if run.get("returncode") == 0 else (" (out of memory)" if run.get("oom") else " (failed)")
        peak = run.get("peak_gib_process")
        peak_text = "—" if peak is None else f"{peak:.2f} GiB" + (f" of {card:.0f}" if card else "")
        tps = run.get("tokens_per_second")
        loss = run.get("final_loss")
        loss_text = "—" if loss is None else f"{loss:.4f}"
        timing = f"{tps:,.0f} | {run.get('seconds_per_step', 0):.3f}" if tps else "— | —"
        lines.append(f"| {name}{failed} | {split} | {timing} | {peak_text} | {loss_text} |")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        print(table(Path(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dims", default="qwen3-8b", help="make_model.py's dims (default: Qwen3-8B's)")
    parser.add_argument("--steps", type=int, default=25, help="optimizer steps of the -real runs")
    parser.add_argument("--full-steps", type=int, default=15, help="optimizer steps of the -full runs")
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--profile", default="alpaca", help="lengths.py's profile for the -real runs")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"which, in order (default {','.join(RUNS)})")
    parser.add_argument("--budget-s", type=float, default=450.0, help="start no run after this (seconds)")
    parser.add_argument("--method", default="qlora", help="ftui's method (CPU rehearsal: lora)")
    parser.add_argument("--optim", default=None, help="override the optimizer (CPU rehearsal: adamw_torch)")
    parser.add_argument("--no-4bit-peer", action="store_true", help="CPU rehearsal: the peers in 16 bit")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument(
        "--notebook-bos", action="store_true", help="the notebook's rows start with BOS, as ftui's"
    )
    args = parser.parse_args()
    began = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.work is None:
        shm = shutil.disk_usage("/dev/shm").free / GIB if os.path.isdir("/dev/shm") else 0
        args.work = Path("/dev/shm/ftui-defaults" if shm > 40 else "/tmp/ftui-defaults")
    args.work.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "issue": 17,
        "dims": args.dims,
        "seq": args.seq,
        "rows_a_step": ROWS_A_STEP,
        "steps": {"real": args.steps, "full": args.full_steps},
        "warmup_steps_excluded": WARMUP,
        "targets": TARGETS,
        "runs": {},
    }

    def save() -> None:
        (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")

    import torch

    cuda = torch.cuda.is_available()
    results["gpu"] = torch.cuda.get_device_name(0) if cuda else "none (CPU rehearsal)"
    results["gpu_memory_gib"] = (
        round(torch.cuda.get_device_properties(0).total_memory / GIB, 2) if cuda else None
    )
    results["torch"] = torch.__version__
    results["bf16_matmul_tflops"] = matmul_tflops()
    del torch
    save()
    sampler_cls = NvmlSampler if cuda else _NoSampler

    from benchmarks.training.lengths import write_rows
    from benchmarks.training.make_model import build

    started = time.time()
    args.model = build(args.work / f"model-{args.dims}", args.dims, "cuda" if cuda else "cpu")
    results["model_build_s"] = round(time.time() - started, 1)
    rows = max(args.steps, args.full_steps) * ROWS_A_STEP + 16
    real = args.work / f"data-{args.profile}.jsonl"
    results["data_real"] = write_rows(real, args.model, args.profile, rows, args.seq)
    full = write_data(args.work / "data-full.jsonl", rows=rows, words=int(args.seq * 1.3))
    results["data_full"] = {
        "rows": rows,
        "tokens_per_row": args.seq,
        "what": "every row cut at the max length",
    }
    save()

    for name in [n for n in args.runs.split(",") if n]:
        left = args.budget_s - (time.time() - began)
        if left < 100:
            results["runs"][name] = {"skipped": f"budget: {left:.0f} s left of {args.budget_s:.0f}"}
            save()
            continue
        _wait_for_idle(sampler_cls)
        data = real if name.endswith("-real") else full
        args.run_steps = args.steps if name.endswith("-real") else args.full_steps
        left += 120  # a run that started may finish past the budget; one that hangs may not
        try:
            if name.startswith("ftui"):
                result = ftui_run(args, name, data, left, sampler_cls)
            elif name.startswith("notebook"):
                result = peer_run(args, name, "unsloth_notebook.py", data, left, sampler_cls)
            elif name.startswith("plain"):
                result = peer_run(args, name, "plain_peft.py", data, left, sampler_cls)
            else:
                result = {"error": f"unknown run {name!r}"}
        except Exception as error:  # one run's failure must not lose the others' results
            result = {"error": repr(error)[:500]}
        results["runs"][name] = result
        summarize(results)
        save()
        shown = {k: v for k, v in result.items() if k not in ("losses", "error_tail", "config_training")}
        print(f"{name}: {json.dumps(shown)}", flush=True)
    summarize(results)
    results["wall_s"] = round(time.time() - began, 1)
    save()
    print(json.dumps(results.get("summary"), indent=1), flush=True)


def summarize(results: dict) -> None:
    runs = results["runs"]

    def tps(name: str) -> float | None:
        return (runs.get(name) or {}).get("tokens_per_second")

    summary: dict = {}
    for kind in ("real", "full"):
        a, b = tps(f"ftui-{kind}"), tps(f"notebook-{kind}")
        if a and b:
            summary[f"ftui_vs_notebook_{kind}"] = round(a / b, 3)
        curves = compare_losses(
            (runs.get(f"ftui-{kind}") or {}).get("losses", {}),
            (runs.get(f"notebook-{kind}") or {}).get("losses", {}),
        )
        if curves:
            summary[f"loss_ftui_vs_notebook_{kind}"] = curves
    a, b = tps("ftui-real"), tps("plain-real")
    if a and b:
        summary["ftui_vs_plain_real"] = round(a / b, 3)
    curves = compare_losses(
        (runs.get("ftui-real") or {}).get("losses", {}), (runs.get("plain-real") or {}).get("losses", {})
    )
    if curves:
        summary["loss_ftui_vs_plain_real"] = curves
    for one, other, key in (
        ("ftui-split-real", "notebook-real", "loss_ftui_split_vs_notebook_real"),
        ("ftui-split-real", "ftui-real", "loss_ftui_split_vs_ftui_real"),
        ("notebook-split-real", "ftui-real", "loss_notebook_split_vs_ftui_real"),
        ("notebook-split-real", "notebook-real", "loss_notebook_split_vs_notebook_real"),
    ):
        curves = compare_losses(
            (runs.get(one) or {}).get("losses", {}), (runs.get(other) or {}).get("losses", {})
        )
        if curves:
            summary[key] = curves
    summary["peak_gib"] = {
        name: run.get("peak_gib_process") for name, run in runs.items() if "skipped" not in run
    }
    results["summary"] = summary


if __name__ == "__main__":
    main()
