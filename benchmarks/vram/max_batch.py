"""Is "the largest micro-batch that fits" true? Train at ftui's predicted max_batch and 15% above it, on the
H200 capped to a common card's memory (issue 17).

  python benchmarks/vram/max_batch.py --out DIR [--arch Qwen/Qwen3-8B] [--card "RTX 4090"] [--seq 2048]

Expected runtime on one H200: under 2 minutes (import ~40 s, random weights built ~15 s, a QLoRA load
~15 s, then two training attempts of one to two steps each). Writes DIR/max_batch.json after each attempt.

How: the card is emulated with torch.cuda.set_per_process_memory_fraction, which caps what PyTorch's
allocator may reserve. What lies outside PyTorch (the CUDA context, cuBLAS/Triton/bitsandbytes
workspaces) is not capped by it, and ftui's estimate counts it as CUDA_CONTEXT_GIB; so torch is capped at
the card's memory minus that, and the card's NVML used memory is sampled to show the whole. Then, with
Unsloth and TRL as ftui trains (QLoRA r=16 on all linear layers, Unsloth gradient checkpointing,
adamw_8bit, every row filled to the maximum length):
  1. micro-batch = ftui's max_batch for the card (`ftui estimate ... --json`'s max_batch): must train
     (two optimizer steps, so that the optimizer's states exist during the second);
  2. micro-batch = ceil(1.15 x max_batch): must run out of memory, or peak within a few percent of the cap.

The table for BENCHMARKS.md: python benchmarks/vram/max_batch.py --table DIR

CPU rehearsal (a tiny model, no cap; checks the code path only):
  python benchmarks/vram/max_batch.py --out /tmp/max-batch --arch tiny-llama --cpu --limit 4
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from benchmarks.vram.measure import (  # noqa: E402
    GIB,
    TINY,
    NoNvml,
    NvmlPeak,
    StepClock,
    build_weights,
    load,
    log,
    train_one,
)


def predicted(arch: dict, card_gib: float, seq: int) -> tuple[int, dict]:
    from ftui.core.dims import dims_from_hf_config
    from ftui.core.memory import CUDA_CONTEXT_GIB, MEMORY_SAFETY_MARGIN, estimate_peak_vram, max_batch
    from ftui.core.plan import TrainingSettings

    dims = dims_from_hf_config(arch["config"], params_b=arch.get("params_b"))
    settings = TrainingSettings(method="qlora", seq=seq)
    best = max_batch(dims, settings, card_gib)
    estimate = {
        b: estimate_peak_vram(dims, TrainingSettings(method="qlora", seq=seq, batch=b)).total_gib
        for b in (best, math.ceil(1.15 * best))
    }
    return best, {
        "max_batch": best,
        "estimate_gib": estimate,
        "safety_margin": MEMORY_SAFETY_MARGIN,
        "cuda_context_gib": CUDA_CONTEXT_GIB,
    }


def table(folder: Path) -> str:
    result = json.loads((folder / "max_batch.json").read_text())
    estimates = {int(k): v for k, v in result["prediction"]["estimate_gib"].items()}
    lines = [
        f"{result['card']} ({result['card_gib']:.2f} GiB) emulated on {result.get('device', '?')}: torch capped at "
        f"{result.get('torch_cap_gib', '?')} GiB. ftui's max_batch for {result['arch']} QLoRA at {result['seq']} tokens: "
        f"**{result['prediction']['max_batch']}**.",
        "",
        "| micro-batch | tokens | ftui estimate | trained? | peak GPU memory (NVML) | of the card |",
        "| ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for attempt in result["attempts"]:
        ran = "yes" if attempt.get("ran") else ("out of memory" if attempt.get("oom") else "failed")
        estimate = estimates.get(attempt["batch"])
        peak, share = attempt.get("nvml_peak_gib"), attempt.get("of_card")
        lines.append(
            f"| {attempt['batch']} | {attempt['tokens']:,} | "
            f"{'—' if estimate is None else f'{estimate:.2f} GiB'} | {ran} "
            f"| {'—' if peak is None else f'{peak:.2f} GiB'} | {'—' if share is None else f'{share:.1%}'} |"
        )
    verdict = result.get("verdict", {})
    lines += [
        "",
        f"max_batch trained: {verdict.get('max_batch_ran')}; 15% above it ran out of memory or peaked within 5% "
        f"of the card: {verdict.get('above_ran_out_or_near_cap')}.",
    ]
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        print(table(Path(sys.argv[2])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--arch", default="Qwen/Qwen3-8B", help="a key of architectures.json")
    parser.add_argument("--card", default="RTX 4090", help="the card to emulate (ftui's catalog)")
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--cpu", action="store_true", help="rehearse on a CPU: no cap, no NVML")
    parser.add_argument("--limit", type=int, default=None, help="cap the micro-batches tried (rehearsal)")
    parser.add_argument("--shm", default="/dev/shm/ftui-max-batch")
    options = parser.parse_args()
    began = time.perf_counter()
    options.out.mkdir(parents=True, exist_ok=True)
    result: dict = {"issue": 17, "arch": options.arch, "seq": options.seq, "attempts": []}

    def save() -> None:
        (options.out / "max_batch.json").write_text(json.dumps(result, indent=1) + "\n")

    from ftui.core.catalog import load_catalog

    card = load_catalog().gpu(options.card)
    if card is None:
        raise SystemExit(f"{options.card!r} is not a card in ftui's catalog")
    archs = json.loads((HERE / "architectures.json").read_text()) | TINY
    arch = archs[options.arch]
    best, prediction = predicted(arch, card.memory_gib, options.seq)
    result.update({"card": card.name, "card_gib": card.memory_gib, "prediction": prediction})
    batches = [best, math.ceil(1.15 * best)]
    if options.limit:
        batches = [min(b, options.limit) for b in batches]
    result["batches"] = batches
    save()
    log(
        f"{card.name} ({card.memory_gib:.2f} GiB): ftui's max_batch at {options.seq} is {best}; trying {batches}"
    )

    meter = NoNvml() if options.cpu else NvmlPeak()
    idle = meter.used()
    if options.cpu:
        os.environ.setdefault("UNSLOTH_FORCE_CPU", "1")
        from ftui.trainer.compat import hide_broken_torchvision

        hide_broken_torchvision()
    import unsloth  # noqa: F401, I001  (first, as ftui's trainer does)
    import torch
    from unsloth import FastLanguageModel

    device = "cpu" if options.cpu else "cuda"
    if not options.cpu:
        torch.zeros(1, device="cuda")
        total = torch.cuda.get_device_properties(0).total_memory
        cap = (card.memory_gib - prediction["cuda_context_gib"]) * GIB
        torch.cuda.set_per_process_memory_fraction(cap / total)
        result["torch_cap_gib"] = round(cap / GIB, 3)
        result["device"] = torch.cuda.get_device_name(0)
        result["idle_gib"] = round(idle / GIB, 3)
    result["import_s"] = round(time.perf_counter() - began, 1)
    save()

    folder = Path(options.shm) / options.arch.replace("/", "--")
    try:
        build_weights(torch, arch, folder, device)
        model, tokenizer = load(
            FastLanguageModel, torch, folder, options.seq, "qlora", "unsloth", options.cpu
        )
        result["loaded_gib"] = round((meter.used() - idle) / GIB, 3) if not options.cpu else None
        for index, batch in enumerate(batches):
            gc.collect()
            if not options.cpu:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            meter.reset()
            clock = StepClock(torch, device)
            attempt: dict = {"batch": batch, "tokens": batch * options.seq, "steps": 2 if index == 0 else 1}
            started = time.perf_counter()
            try:
                loss, _ = train_one(
                    torch, model, tokenizer, batch, options.seq, arch["config"]["vocab_size"],
                    attempt["steps"], device, clock, "adamw_8bit" if not options.cpu else "adamw_torch",
                )  # fmt: skip
                attempt["ran"] = True
                attempt["loss"] = round(float(loss), 4)
            except torch.OutOfMemoryError as error:
                attempt["ran"] = False
                attempt["oom"] = str(error).splitlines()[0][:300]
            except Exception as error:  # recorded; the next attempt still runs
                attempt["ran"] = False
                attempt["error"] = repr(error)[:300]
            attempt.update(
                {
                    "nvml_peak_gib": round((meter.peak - idle) / GIB, 3) if not options.cpu else None,
                    "reserved_gib": round(torch.cuda.max_memory_reserved() / GIB, 3)
                    if not options.cpu
                    else None,
                    "step_seconds": [round(s, 3) for s in clock.seconds],
                    "wall_s": round(time.perf_counter() - started, 1),
                }
            )
            if attempt.get("nvml_peak_gib") is not None:
                attempt["of_card"] = round(attempt["nvml_peak_gib"] / card.memory_gib, 4)
            result["attempts"].append(attempt)
            save()
            log(json.dumps(attempt))
    except Exception as error:  # the build or the load: say so in the results
        result["error"] = repr(error)[:500]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        meter.stop()
    first, *rest = result["attempts"] or [None]
    result["verdict"] = {
        "max_batch_ran": bool(first and first.get("ran")),
        "above_ran_out_or_near_cap": bool(
            rest and (not rest[0].get("ran") or (rest[0].get("of_card") or 0) >= 0.95)
        ),
    }
    result["wall_s"] = round(time.perf_counter() - began, 1)
    save()
    log(json.dumps(result["verdict"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
