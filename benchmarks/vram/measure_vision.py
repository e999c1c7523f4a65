"""Measure peak GPU memory and seconds per step of Unsloth vision fine-tunes: the vision estimator's ground truth.

The method is measure.py's (read its docstring): random bf16 weights with the real dims
(vision_architectures.json, written by vision_models.py with a processor; nothing is downloaded) saved once
per architecture to /dev/shm, loaded once per (method, vision layers tuned or frozen) with Unsloth's
FastVisionModel and trained exactly as ftui's trainer does (FastVisionModel.get_peft_model r=16 with the
finetune_* flags, UnslothVisionDataCollator, SFTTrainer with remove_unused_columns=False,
dataset_text_field="", skip_prepare_dataset, adamw_8bit, bf16), on rows whose text fills the sequence
to the maximum length with the images' tokens counted, each row with its own noise image(s) of the size
given, stored as the trainer stores them ({"bytes", "path"}).

Per configuration one JSON line, written the moment it exists: nvml_peak_gib (the card's used memory at its
peak, sampled every 10 ms, minus its use before this process touched CUDA), reserved_gib, allocated_gib,
seconds_per_step (median of the timed steps), input_tokens (the longest batch the collator produced: text
and image tokens as the model saw them). As in measure.py, all loads share one process (a process start with
Unsloth costs ~40 s of device time), so `allocated_after_load_gib` is recorded for analyze_vision.py to
subtract what earlier loads left allocated.

Device budget: the h200 plan is ordered so that a run cut short still covers all four architectures and both
methods; --budget-s (default 330) stops starting new configurations, so the whole run ends within 7 minutes
on one H200 (expected ~6 min: ~40 s imports, ~30 s per 7-11B weight build, ~20 s per QLoRA load, ~10 s per
configuration).

Usage on the GPU machine:
  python benchmarks/vram/measure_vision.py --plan h200 --out $OUT/vram-vision.jsonl
Rehearsal on a CPU (tiny Gemma 3 and Llama 3.2 Vision; the model loads through transformers + PEFT, as ftui's
trainer does on CPU, because Unsloth's CPU backend refuses FastVisionModel):
  python benchmarks/vram/measure_vision.py --plan cpu-tiny --out /tmp/vram-vision.jsonl
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from measure import GIB, NoNvml, NvmlPeak, StepClock, log, matmul_rate, sync, write  # noqa: E402

# (architecture, method, finetune_vision_layers, [(batch, seq, (width, height), images_per_row), ...])
PLANS: dict[str, list[tuple]] = {
    "h200": [
        ("Qwen/Qwen2.5-VL-3B-Instruct", "qlora", True, [(1, 2048, (512, 512), 1), (4, 2048, (1024, 1024), 1)]),
        ("Qwen/Qwen2.5-VL-3B-Instruct", "lora", True, [(2, 4096, (1024, 768), 2)]),
        ("google/gemma-3-4b-it", "qlora", True, [(1, 1024, (896, 896), 1), (4, 2048, (896, 896), 2)]),
        ("google/gemma-3-4b-it", "lora", True, [(2, 2048, (896, 896), 1)]),
        ("Qwen/Qwen2.5-VL-7B-Instruct", "qlora", True, [(1, 2048, (1024, 1024), 1), (2, 4096, (1024, 768), 1)]),
        ("Qwen/Qwen2.5-VL-7B-Instruct", "lora", True, [(2, 2048, (1024, 1024), 1)]),
        ("meta-llama/Llama-3.2-11B-Vision-Instruct", "qlora", True, [(1, 1024, (560, 560), 1), (2, 2048, (1120, 560), 1)]),
        ("meta-llama/Llama-3.2-11B-Vision-Instruct", "lora", True, [(1, 2048, (1120, 1120), 1)]),
        ("Qwen/Qwen2.5-VL-3B-Instruct", "qlora", False, [(4, 2048, (1024, 1024), 1)]),
    ],
    # One device call of under 4.5 minutes: the architecture the 2026-11-30 run did not reach and the fitted
    # language term (BENCHMARKS.md, vision estimator) is carried to the furthest (40 layers x 4096, cross-
    # attention); Qwen2.5-VL-7B only if the budget leaves room.
    "h200-next": [
        ("meta-llama/Llama-3.2-11B-Vision-Instruct", "qlora", True, [(1, 1024, (560, 560), 1)]),
        ("Qwen/Qwen2.5-VL-7B-Instruct", "qlora", True, [(1, 2048, (1024, 1024), 1)]),
    ],
    # What the 2026-11-30 run's budget left, in the order the table needs it: the two families not yet
    # measured (Llama 3.2 Vision's cross-attention and tiles; Qwen2.5-VL at 7B, where the fitted language
    # term and the time factor are carried furthest), LoRA of each, then the frozen tower and Gemma LoRA.
    "h200-rest": [
        ("meta-llama/Llama-3.2-11B-Vision-Instruct", "qlora", True, [(1, 1024, (560, 560), 1), (2, 2048, (1120, 560), 1)]),
        ("Qwen/Qwen2.5-VL-7B-Instruct", "qlora", True, [(1, 2048, (1024, 1024), 1), (2, 4096, (1024, 768), 1)]),
        ("Qwen/Qwen2.5-VL-7B-Instruct", "lora", True, [(2, 2048, (1024, 1024), 1)]),
        ("meta-llama/Llama-3.2-11B-Vision-Instruct", "lora", True, [(1, 2048, (1120, 1120), 1)]),
        ("Qwen/Qwen2.5-VL-3B-Instruct", "qlora", False, [(4, 2048, (1024, 1024), 1)]),
        ("google/gemma-3-4b-it", "lora", True, [(2, 2048, (896, 896), 1)]),
    ],
    "cpu-tiny": [
        ("tiny-gemma3", "lora", True, [(1, 256, (120, 80), 1), (2, 256, (64, 64), 2)]),
        ("tiny-mllama", "lora", False, [(1, 256, (120, 80), 1)]),
    ],
}  # fmt: skip


def png_rows(rows: list[dict]) -> list[dict]:
    """The trainer's storage: every image as {"bytes", "path"} (vision_dataset in ftui/trainer/vision.py)."""
    out = []
    for row in rows:
        stored = []
        for image in row["images"]:
            data = io.BytesIO()
            image.save(data, format="PNG")
            stored.append({"bytes": data.getvalue(), "path": None})
        out.append({"messages": row["messages"], "images": stored})
    return out


def load(folder: Path, method: str, vision_layers: bool, max_seq: int, cpu: bool):  # type: ignore[no-untyped-def]
    if cpu:
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForImageTextToText, AutoProcessor
        from unsloth_zoo.peft_utils import get_peft_regex

        model = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32)
        processor = AutoProcessor.from_pretrained(folder)
        targets = get_peft_regex(model, vision_layers, True, True, True)
        return get_peft_model(model, LoraConfig(r=16, lora_alpha=16, target_modules=targets)), processor
    from unsloth import FastVisionModel

    model, processor = FastVisionModel.from_pretrained(
        model_name=str(folder),
        max_seq_length=max_seq,
        dtype=None,
        load_in_4bit=method == "qlora",
        use_gradient_checkpointing="unsloth",
        local_files_only=True,
    )
    model = FastVisionModel.get_peft_model(
        model,
        r=16,
        lora_alpha=16,
        lora_dropout=0,
        bias="none",
        finetune_vision_layers=vision_layers,
        finetune_language_layers=True,
        finetune_attention_modules=True,
        finetune_mlp_modules=True,
        use_gradient_checkpointing="unsloth",
        random_state=3407,
    )
    FastVisionModel.for_training(model)
    return model, processor


def train_one(model, processor, rows: list[dict], batch: int, seq: int, steps: int, device: str, clock):  # type: ignore[no-untyped-def]
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer
    from unsloth_zoo.vision_utils import UnslothVisionDataCollator

    seen = {"input_tokens": 0}
    collate = UnslothVisionDataCollator(model, processor, max_seq_length=seq)

    def counting(examples):  # type: ignore[no-untyped-def]
        out = collate(examples)
        seen["input_tokens"] = max(seen["input_tokens"], int(out["input_ids"].shape[1]))
        return out

    args = SFTConfig(
        output_dir="/tmp/ftui-vram-vision-bench",
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=1,
        max_steps=steps,
        max_length=seq,
        learning_rate=2e-4,
        warmup_steps=0,
        optim="adamw_8bit" if device == "cuda" else "adamw_torch",
        weight_decay=0.01,
        bf16=device == "cuda",
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=3407,
        disable_tqdm=True,
        remove_unused_columns=False,
        dataset_text_field="",
        dataset_kwargs={"skip_prepare_dataset": True},
    )
    trainer = SFTTrainer(
        model=model,
        processing_class=processor,
        data_collator=counting,
        train_dataset=Dataset.from_list(rows),
        args=args,
        callbacks=[clock.callback],
    )
    result = trainer.train()
    del trainer
    return result.training_loss, seen["input_tokens"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default="h200", choices=sorted(PLANS))
    parser.add_argument("--out", required=True, help="JSON lines, appended as configurations finish")
    parser.add_argument("--budget-s", type=float, default=330.0, help="start no configuration after this")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--timed", type=int, default=2)
    parser.add_argument("--shm", default="/dev/shm/ftui-vram-vision")
    options = parser.parse_args()
    began = time.perf_counter()
    out = Path(options.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cpu = options.plan.startswith("cpu")
    device = "cpu" if cpu else "cuda"
    meter = NoNvml() if cpu else NvmlPeak()
    idle = meter.used()
    if cpu:
        os.environ.setdefault("UNSLOTH_FORCE_CPU", "1")
        from ftui.trainer.compat import hide_broken_torchvision

        hide_broken_torchvision()
    import unsloth  # noqa: F401, I001  (first, before trl/transformers/peft, as ftui's trainer does)
    import torch

    import vision_models

    context = 0
    if not cpu:
        torch.zeros(1, device="cuda")
        torch.cuda.synchronize()
        context = meter.used() - idle
    import transformers
    import trl

    meta = {
        "kind": "meta",
        "plan": options.plan,
        "device": torch.cuda.get_device_name(0) if not cpu else "cpu",
        "idle_gib": round(idle / GIB, 3),
        "context_gib": round(context / GIB, 3),
        "torch": torch.__version__,
        "unsloth": unsloth.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "import_s": round(time.perf_counter() - began, 1),
        "date": time.strftime("%Y-%m-%d"),
        "matmul_bf16_tflops": matmul_rate(torch, device),
    }
    write(out, meta)
    shm = Path(options.shm)
    built: str | None = None
    steps = options.warmup + options.timed
    for arch_name, method, vision_layers, configs in PLANS[options.plan]:
        if time.perf_counter() - began > options.budget_s - 40:
            log(f"budget: skipping {arch_name} {method}")
            continue
        folder = shm / arch_name.replace("/", "--")
        if built != arch_name:
            if built is not None:
                shutil.rmtree(shm / built.replace("/", "--"), ignore_errors=True)
            start = time.perf_counter()
            try:
                vision_models.build(arch_name, folder, device)
            except Exception as error:
                write(out, {"kind": "error", "arch": arch_name, "error": repr(error)[:300]})
                continue
            built = arch_name
            gc.collect()
            if not cpu:
                torch.cuda.empty_cache()
            log(f"built {arch_name} in {time.perf_counter() - start:.1f}s")
        start = time.perf_counter()
        try:
            model, processor = load(folder, method, vision_layers, max(c[1] for c in configs), cpu)
        except Exception as error:  # one architecture failing must not cost the others' minutes
            write(out, {"kind": "error", "arch": arch_name, "method": method, "error": repr(error)[:300]})
            continue
        write(
            out,
            {
                "kind": "load",
                "arch": arch_name,
                "method": method,
                "finetune_vision_layers": vision_layers,
                "load_s": round(time.perf_counter() - start, 1),
                "nvml_after_load_gib": round((meter.used() - idle) / GIB, 3),
                "allocated_after_load_gib": round(torch.cuda.memory_allocated() / GIB, 3) if not cpu else 0,
                "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
                "total_params": sum(p.numel() for p in model.parameters()),
            },
        )
        for batch, seq, size, per_row in sorted(configs, key=lambda c: c[0] * c[1]):
            if time.perf_counter() - began > options.budget_s:
                log(f"budget: skipping {arch_name} {method} b{batch} s{seq} {size}")
                continue
            rows = png_rows(vision_models.filled_rows(arch_name, batch * steps, seq, tuple(size), per_row))
            gc.collect()
            if not cpu:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            meter.reset()
            clock = StepClock(torch, device)
            record = {
                "kind": "config",
                "arch": arch_name,
                "method": method,
                "finetune_vision_layers": vision_layers,
                "batch": batch,
                "seq": seq,
                "image_size": list(size),
                "images_per_row": per_row,
                "rank": 16,
                "gradient_checkpointing": "unsloth",
                "optimizer": "adamw_8bit" if not cpu else "adamw_torch",
            }
            begun = time.perf_counter()
            try:
                loss, tokens = train_one(model, processor, rows, batch, seq, steps, device, clock)
                record["loss"] = round(float(loss), 4)
                record["input_tokens"] = tokens
            except torch.OutOfMemoryError as error:
                record["oom"] = str(error).splitlines()[0][:200]
            except Exception as error:
                record["error"] = repr(error)[:300]
            timed = clock.seconds[options.warmup :]
            record.update(
                {
                    "nvml_peak_gib": round((meter.peak - idle) / GIB, 3) if not cpu else None,
                    "reserved_gib": round(torch.cuda.max_memory_reserved() / GIB, 3) if not cpu else None,
                    "allocated_gib": round(torch.cuda.max_memory_allocated() / GIB, 3) if not cpu else None,
                    "nvml_samples": meter.samples,
                    "step_seconds": [round(s, 4) for s in clock.seconds],
                    "seconds_per_step": round(statistics.median(timed), 4) if timed else None,
                    "wall_s": round(time.perf_counter() - begun, 1),
                }
            )
            write(out, record)
        del model, processor
        gc.collect()
        if not cpu:
            torch.cuda.empty_cache()
        sync(torch, device)
    if built is not None:
        shutil.rmtree(shm / built.replace("/", "--"), ignore_errors=True)
    meter.stop()
    log(f"done in {time.perf_counter() - began:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
