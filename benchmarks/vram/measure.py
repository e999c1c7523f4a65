"""Measure peak GPU memory and seconds per step of real Unsloth fine-tunes (the estimator's ground truth).

For each architecture in the plan: random bf16 weights with the real dims (benchmarks/vram/architectures.json,
from model-facts.json; nothing is downloaded) are saved once to /dev/shm, then loaded once per method with
Unsloth's FastLanguageModel (load_in_4bit for QLoRA) and trained with TRL's SFTTrainer exactly as ftui's
trainer does (r=16 on all linear layers, Unsloth gradient checkpointing, adamw_8bit, bf16), on rows filled
to the maximum length, for each (micro-batch, sequence) of that load in ascending order of tokens.

Per configuration it records, as one JSON line written the moment it exists:
  nvml_peak_gib      the card's used memory at its peak (NVML, sampled every 10 ms by a thread) minus the
                     card's usage before this process touched CUDA: what nvidia-smi shows, what decides an OOM
  reserved_gib       torch.cuda.max_memory_reserved over the training steps
  allocated_gib      torch.cuda.max_memory_allocated over the training steps
  seconds_per_step   median of the timed steps (after the warm-up steps)

All loads share one process (a process start with Unsloth costs about 40 s of device time). On the GPU,
one vocab x hidden matrix of each loaded model (its embedding, or its head: the same size) stays allocated
after the model is deleted (not so on CPU; perhaps a compiled loss graph holding the head), so later loads
start with that much more memory in use: analyze.py subtracts it (see its docstring).
A future run with device time to spare should start one process per load instead.

Usage on the GPU machine (see BENCHMARKS.md, section estimator):
  python benchmarks/vram/measure.py --plan h200 --out $OUT/vram.jsonl --budget-s 520
Rehearsal on a CPU (a tiny model, same code path):
  python benchmarks/vram/measure.py --plan cpu-tiny --out /tmp/vram.jsonl
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import threading
import time
import warnings
from pathlib import Path

GIB = 1024**3
HERE = Path(__file__).resolve().parent

# (architecture, method, [(micro_batch, seq[, optimizer]), ...][, gradient checkpointing]); each load's
# configs run in ascending order of tokens. Ordered so that a run cut short by its time budget still covers
# four architectures and both methods; the loads that check other settings (plain and no checkpointing,
# adamw_torch, full fine-tuning) come last.
PLANS: dict[str, list[tuple]] = {
    "h200": [
        ("meta-llama/Llama-3.2-1B", "qlora", [(1, 512), (2, 2048), (4, 4096), (2, 16384)]),
        ("meta-llama/Llama-3.2-1B", "lora", [(1, 1024), (4, 2048), (1, 16384), (4, 16384)]),
        ("meta-llama/Llama-3.1-8B", "qlora", [(1, 512), (2, 2048), (1, 16384)]),
        ("meta-llama/Llama-3.1-8B", "lora", [(1, 2048), (4, 4096)]),
        ("Qwen/Qwen2.5-7B", "qlora", [(1, 1024), (2, 4096), (1, 16384)]),
        ("Qwen/Qwen2.5-7B", "lora", [(2, 2048), (1, 8192)]),
        ("Qwen/Qwen2.5-14B", "qlora", [(1, 2048), (2, 4096)]),
        ("Qwen/Qwen2.5-14B", "lora", [(1, 1024), (1, 4096)]),
        ("meta-llama/Llama-3.2-3B", "qlora", [(1, 2048), (4, 4096), (1, 16384)]),
        ("meta-llama/Llama-3.2-3B", "lora", [(2, 1024), (2, 8192), (2, 8192, "adamw_torch")]),
        ("meta-llama/Llama-3.2-1B", "lora", [(1, 4096), (2, 8192)], "plain"),
        ("meta-llama/Llama-3.2-1B", "lora", [(1, 2048), (1, 8192)], "none"),
        ("meta-llama/Llama-3.2-1B", "full", [(1, 2048), (2, 4096)]),
    ],
    # The settings checks alone (a second call when the first one's budget ran out before them).
    "h200-extras": [
        ("meta-llama/Llama-3.2-1B", "lora", [(1, 4096), (2, 8192)], "plain"),
        ("meta-llama/Llama-3.2-1B", "lora", [(1, 2048), (1, 8192)], "none"),
        ("meta-llama/Llama-3.2-1B", "full", [(1, 2048), (2, 4096)]),
    ],
    # Issue 17: seconds per step on architectures the time model was not fitted on, and full fine-tuning
    # (first, in a fresh process: its memory is checked too). One call, under 8 minutes with the start:
    #   python benchmarks/vram/measure.py --plan h200-unseen --out $OUT/unseen.jsonl --budget-s 420
    "h200-unseen": [
        ("meta-llama/Llama-3.2-1B", "full", [(1, 2048), (2, 4096)]),
        ("meta-llama/Llama-3.2-3B", "full", [(1, 2048), (2, 4096)]),
        ("Qwen/Qwen3-8B", "qlora", [(2, 2048), (8, 1024), (8, 2048)]),
        ("mistralai/Mistral-7B-v0.3", "qlora", [(1, 1024), (4, 2048)]),
        ("microsoft/Phi-4-mini-instruct", "qlora", [(1, 1024), (4, 4096)]),
        ("google/gemma-3-1b-it", "qlora", [(1, 1024), (4, 4096), (2, 16384)]),
        ("Qwen/Qwen3-30B-A3B-12L", "qlora", [(1, 1024), (4, 2048)]),
    ],
    # h200-unseen in two processes (the 2026-11-30 run's budget ended after the full fine-tuning rows,
    # three of them on a card shared with another job): the 3B's full fine-tuning alone in a fresh process,
    # then the five unseen architectures (Qwen3-8B's 8 x 2048 last: the splits' third point).
    "h200-full-3b": [
        ("meta-llama/Llama-3.2-3B", "full", [(1, 2048), (2, 4096)]),
    ],
    "h200-unseen-qlora": [
        ("Qwen/Qwen3-8B", "qlora", [(2, 2048), (8, 1024)]),
        ("mistralai/Mistral-7B-v0.3", "qlora", [(1, 1024), (4, 2048)]),
        ("microsoft/Phi-4-mini-instruct", "qlora", [(1, 1024), (4, 4096)]),
        ("google/gemma-3-1b-it", "qlora", [(1, 1024), (4, 4096), (2, 16384)]),
        ("Qwen/Qwen3-30B-A3B-12L", "qlora", [(1, 1024), (4, 2048)]),
        ("Qwen/Qwen3-8B", "qlora", [(8, 2048)]),
    ],
    # What h200-unseen-qlora left (the MoE, Qwen3-8B at 8 x 2048), then the host-bound steps of two ways
    # Unsloth trains (third lease of 2026-11-30): Gemma 3 and Qwen3-MoE go through its generic FastModel
    # path (torch.compile over transformers' layers), Llama through its own kernels; Llama 3.2 1B at
    # 1 x 1024 also says how fast this lease's host is against the leases the time model was fitted on.
    "h200-generic": [
        ("Qwen/Qwen3-30B-A3B-12L", "qlora", [(1, 1024), (4, 2048)]),
        ("google/gemma-3-1b-it", "qlora", [(1, 1024), (2, 1024), (1, 2048)]),
        ("meta-llama/Llama-3.2-1B", "qlora", [(1, 512), (1, 1024)]),
        ("Qwen/Qwen3-8B", "qlora", [(8, 2048)]),
    ],
    # The time model's two misses (issue 17), in two processes, one a GPU (a two-H200 lease): is the generic
    # FastModel path's host cost a layer the same with adapters (Gemma 3, QLoRA) as without (Llama's full
    # fine-tuning), and what a routed-experts layer adds, on three MoE models of different shapes (128 narrow
    # experts, 64, 8 wide ones), so that an MoE term fitted on two is judged on the third. Llama 3.2 1B's
    # QLoRA steps (Unsloth's own kernels) say how fast each lease's host is against the earlier leases.
    # Run with --timed 10 --count-syncs (the GPU-to-host waits of one more step).
    "h200-moe-a": [
        ("meta-llama/Llama-3.2-1B", "qlora", [(1, 512), (1, 1024)]),
        ("Qwen/Qwen3-30B-A3B-12L", "qlora", [(1, 1024), (4, 2048), (8, 4096)]),
        ("google/gemma-3-1b-it", "qlora", [(1, 1024), (2, 1024)]),
        ("meta-llama/Llama-3.2-1B", "full", [(1, 1024)]),
    ],
    "h200-moe-b": [
        ("meta-llama/Llama-3.2-1B", "qlora", [(1, 512), (1, 1024)]),
        ("allenai/OLMoE-1B-7B-0924", "qlora", [(1, 1024), (4, 4096)]),
        ("mistralai/Mixtral-8x7B-v0.1-4L", "qlora", [(1, 1024), (4, 4096)]),
        ("allenai/OLMoE-1B-7B-0924", "qlora", [(4, 1024)]),
    ],
    # The host-bound steps again, each process alone on a one-H200 machine (the moe lease ran two at once on
    # one host; alone, the steps came out as slow, so the host itself differs between leases): the time
    # model's worst rows (Gemma 3 1B, Qwen2.5-7B and Llama 3.1 8B at few tokens), the MoE models' host-bound
    # steps, and Llama 3.2 1B's QLoRA step as the lease's host reference.
    "h200-host-a": [
        ("meta-llama/Llama-3.2-1B", "qlora", [(1, 512), (1, 1024)]),
        ("google/gemma-3-1b-it", "qlora", [(1, 1024), (2, 1024), (1, 2048)]),
        ("Qwen/Qwen2.5-7B", "qlora", [(1, 1024)]),
        ("meta-llama/Llama-3.1-8B", "qlora", [(1, 512)]),
    ],
    "h200-host-b": [
        ("Qwen/Qwen2.5-7B", "qlora", [(1, 1024)]),
        ("meta-llama/Llama-3.1-8B", "qlora", [(1, 512)]),
        ("allenai/OLMoE-1B-7B-0924", "qlora", [(1, 1024)]),
        ("mistralai/Mixtral-8x7B-v0.1-4L", "qlora", [(1, 1024)]),
    ],
    # Mistral 7B's host-bound step again (measured once, in the unseen-qlora lease), beside the reference.
    "h200-mistral": [
        ("meta-llama/Llama-3.2-1B", "qlora", [(1, 512)]),
        ("mistralai/Mistral-7B-v0.3", "qlora", [(1, 1024)]),
    ],
    "cpu-moe": [
        ("tiny-olmoe", "qlora", [(1, 64)]),
        ("tiny-mixtral", "qlora", [(1, 64)]),
    ],
    # The same model types as h200-unseen, tiny, on a CPU: that Unsloth loads and trains each of them.
    "cpu-unseen": [
        ("tiny-llama", "full", [(1, 64)]),
        ("tiny-qwen3", "qlora", [(2, 64)]),
        ("tiny-mistral", "qlora", [(1, 64)]),
        ("tiny-gemma3", "qlora", [(1, 64)]),
        ("tiny-qwen3moe", "qlora", [(1, 64)]),
    ],
    "cpu-tiny": [
        ("tiny-llama", "lora", [(1, 64), (2, 128), (2, 128, "adamw_torch")]),
        ("tiny-llama", "qlora", [(1, 64)]),
        ("tiny-llama", "lora", [(1, 64)], "none"),
        ("tiny-llama", "full", [(1, 64)]),
    ],
}

_SMALL = {"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
          "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 512, "max_position_embeddings": 2048}  # fmt: skip
TINY = {
    "tiny-qwen3": {
        "params_b": None,
        "config": {"model_type": "qwen3", **_SMALL, "tie_word_embeddings": False},
    },
    "tiny-mistral": {"params_b": None, "config": {"model_type": "mistral", **_SMALL, "sliding_window": None}},
    "tiny-gemma3": {
        "params_b": None,
        "config": {
            "model_type": "gemma3_text",
            **_SMALL,
            "sliding_window": 32,
            "layer_types": ["sliding_attention", "full_attention"],
            "query_pre_attn_scalar": 16,
        },
    },
    "tiny-qwen3moe": {
        "params_b": None,
        "config": {
            "model_type": "qwen3_moe",
            **_SMALL,
            "moe_intermediate_size": 32,
            "num_experts": 8,
            "num_experts_per_tok": 2,
            "decoder_sparse_step": 1,
            "mlp_only_layers": [],
        },
    },
    "tiny-olmoe": {
        "params_b": None,
        "config": {"model_type": "olmoe", **_SMALL, "num_experts": 8, "num_experts_per_tok": 2},
    },
    "tiny-mixtral": {
        "params_b": None,
        "config": {"model_type": "mixtral", **_SMALL, "num_local_experts": 4, "num_experts_per_tok": 2},
    },
    "tiny-llama": {
        "params_b": None,
        "config": {
            "model_type": "llama",
            "num_hidden_layers": 2,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": 512,
            "max_position_embeddings": 2048,
            "tie_word_embeddings": True,
        },
    },
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class NvmlPeak:
    """The card's used memory, sampled from a thread every `interval` seconds; `peak` since the last reset."""

    def __init__(self, interval: float = 0.01) -> None:
        import pynvml

        pynvml.nvmlInit()
        self._nvml = pynvml
        self._handle = pynvml.nvmlDeviceGetHandleByIndex(int(os.environ.get("NVML_INDEX", "0")))
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def used(self) -> int:
        return int(self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used)

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self.used()
            if value > self.peak:
                self.peak = value
            self.samples += 1
            time.sleep(self.interval)

    def reset(self) -> None:
        self.peak = self.used()
        self.samples = 0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class NoNvml:
    """CPU rehearsal: no card to read."""

    peak = 0
    samples = 0

    def used(self) -> int:
        return 0

    def reset(self) -> None:
        pass

    def stop(self) -> None:
        pass


def write(out: Path, record: dict) -> None:
    with out.open("a") as handle:
        handle.write(json.dumps(record) + "\n")
    log(json.dumps(record))


def matmul_rate(torch, device: str) -> dict:
    """Achieved dense bf16 matmul rate (TFLOP/s): the ceiling the time model divides by."""
    result = {}
    shapes = [(8192, 8192, 8192), (4096, 4096, 4096)] if device == "cuda" else [(256, 256, 256)]
    for m, k, n in shapes:
        a = torch.randn(m, k, device=device, dtype=torch.bfloat16)
        b = torch.randn(k, n, device=device, dtype=torch.bfloat16)
        for _ in range(3):
            a @ b
        sync(torch, device)
        start = time.perf_counter()
        repeats = 10
        for _ in range(repeats):
            a @ b
        sync(torch, device)
        seconds = (time.perf_counter() - start) / repeats
        result[f"{m}x{k}x{n}"] = round(2 * m * k * n / seconds / 1e12, 1)
        del a, b
    return result


def sync(torch, device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def build_tokenizer(vocab: int):
    """A word-level tokenizer: training reads token ids directly, Unsloth only needs one to exist."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = {"<unk>": 0, "<pad>": 1, "<s>": 2, "</s>": 3}
    for index in range(4, min(vocab, 256)):
        words[f"w{index}"] = index
    tok = Tokenizer(models.WordLevel(vocab=words, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )


def build_weights(torch, arch: dict, directory: Path, device: str) -> None:
    """Random bf16 weights with the real dims, written as safetensors: what from_pretrained loads."""
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = dict(arch["config"])
    model_type = cfg.pop("model_type")
    config = AutoConfig.for_model(model_type, **cfg)
    config.torch_dtype = "bfloat16"
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(directory, safe_serialization=True)
    build_tokenizer(cfg["vocab_size"]).save_pretrained(directory)
    del model
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


class StepClock:
    """Wall time of each optimizer step, with the GPU drained at both ends; on step `count_syncs_on` (an
    extra, untimed one) CUDA's sync debug mode warns at each operation that makes the host wait for the GPU
    (.item(), .tolist(), nonzero, a copy to the host), and the warnings are counted: a step whose host waits
    once a layer cannot run ahead of the GPU."""

    def __init__(self, torch, device: str, count_syncs_on: int | None = None) -> None:
        from transformers import TrainerCallback

        clock = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                sync(torch, device)
                if state.global_step == count_syncs_on and device == "cuda":
                    clock._warnings_before = len(clock.caught)
                    torch.cuda.set_sync_debug_mode("warn")
                clock._start = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step - 1 == count_syncs_on and device == "cuda":
                    torch.cuda.set_sync_debug_mode(0)
                    new = clock.caught[clock._warnings_before :]
                    clock.syncs = sum("synchroniz" in str(w.message) for w in new)
                sync(torch, device)
                clock.seconds.append(time.perf_counter() - clock._start)

        self.seconds: list[float] = []
        self.caught: list = []  # the warnings of the whole train() call (train_one records them here)
        self.syncs: int | None = None
        self._start = 0.0
        self._warnings_before = 0
        self.callback = Callback()


def train_one(
    torch, model, tokenizer, batch: int, seq: int, vocab: int, steps: int, device: str, clock, optimizer: str
):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    generator = torch.Generator().manual_seed(seq * 10 + batch)
    rows = torch.randint(4, vocab, (batch * steps, seq), generator=generator).tolist()
    dataset = Dataset.from_dict({"input_ids": rows})
    args = SFTConfig(
        output_dir="/tmp/ftui-vram-bench",
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=1,
        max_steps=steps,
        max_length=seq,
        learning_rate=2e-4,
        warmup_steps=0,
        optim=optimizer,
        weight_decay=0.01,
        lr_scheduler_type="linear",
        bf16=device == "cuda",
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=3407,
        dataset_num_proc=1,
        disable_tqdm=True,
    )
    trainer = SFTTrainer(
        model=model, processing_class=tokenizer, train_dataset=dataset, args=args, callbacks=[clock.callback]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clock.caught = caught
        result = trainer.train()
    padding_free = bool(getattr(trainer.args, "padding_free", False))
    del trainer
    return result.training_loss, padding_free


CHECKPOINTING = {"unsloth": "unsloth", "plain": True, "none": False}


def load(FastLanguageModel, torch, folder: Path, max_seq: int, method: str, checkpointing: str, cpu: bool):
    """What ftui's trainer does: Unsloth's loader, then LoRA r=16 on all linear layers."""
    # A full fine-tuning load sets UNSLOTH_ENABLE_FULL_FINETUNING=1 for the whole process and Unsloth's
    # 4-bit and 16-bit loaders do not set it back, so every later get_peft_model returned the model without
    # adapters (2026-11-30, plan h200-unseen: each QLoRA configuration after the full ones failed with
    # "You cannot perform fine-tuning on purely quantized models"). ftui's trainer loads one model a process.
    os.environ["UNSLOTH_ENABLE_FULL_FINETUNING"] = "1" if method == "full" else "0"
    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=str(folder),
        max_seq_length=max_seq,
        dtype=torch.bfloat16 if not cpu else None,
        load_in_4bit=method == "qlora",
        full_finetuning=method == "full",
        use_gradient_checkpointing=CHECKPOINTING[checkpointing],
        local_files_only=True,
    )
    if method == "full":
        return model, tokenizer
    model = FastLanguageModel.get_peft_model(
        model,
        r=16,
        lora_alpha=16,
        lora_dropout=0,
        bias="none",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        use_gradient_checkpointing=CHECKPOINTING[checkpointing],
        random_state=3407,
    )
    if not any("lora_" in name for name, p in model.named_parameters() if p.requires_grad):
        raise RuntimeError(f"get_peft_model attached no trainable LoRA weights ({method})")
    return model, tokenizer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default="h200", choices=sorted(PLANS))
    parser.add_argument(
        "--out", required=True, help="JSON lines, one per configuration, appended as they finish"
    )
    parser.add_argument("--budget-s", type=float, default=520.0, help="start no configuration after this")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--timed", type=int, default=3)
    parser.add_argument("--shm", default="/dev/shm/ftui-vram")
    parser.add_argument(
        "--count-syncs", action="store_true", help="one more step, untimed, counting the host's waits"
    )
    options = parser.parse_args()
    began = time.perf_counter()
    out = Path(options.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cpu = options.plan.startswith("cpu")
    device = "cpu" if cpu else "cuda"

    # The card's usage before this process touches CUDA: everything above it is this process.
    meter = NoNvml() if cpu else NvmlPeak()
    idle = meter.used()

    if cpu:
        os.environ.setdefault("UNSLOTH_FORCE_CPU", "1")
        sys.path.insert(0, str(HERE.parents[1]))
        from ftui.trainer.compat import hide_broken_torchvision

        hide_broken_torchvision()
    import unsloth  # noqa: F401, I001  (first, before trl/transformers/peft, as ftui's trainer does)
    import torch
    from unsloth import FastLanguageModel

    import_s = time.perf_counter() - began
    context = 0
    if not cpu:
        torch.zeros(1, device="cuda")
        torch.cuda.synchronize()
        context = meter.used() - idle
    meta = {
        "kind": "meta",
        "plan": options.plan,
        "device": torch.cuda.get_device_name(0) if not cpu else "cpu",
        "idle_gib": round(idle / GIB, 3),
        "context_gib": round(context / GIB, 3),
        "torch": torch.__version__,
        "unsloth": unsloth.__version__,
        "import_s": round(import_s, 1),
        "date": time.strftime("%Y-%m-%d"),
    }
    import transformers
    import trl

    meta["transformers"] = transformers.__version__
    meta["trl"] = trl.__version__
    try:
        import bitsandbytes

        meta["bitsandbytes"] = bitsandbytes.__version__
    except ImportError:
        pass
    meta["matmul_bf16_tflops"] = matmul_rate(torch, device)
    write(out, meta)

    archs = json.loads((HERE / "architectures.json").read_text()) | TINY
    built: str | None = None
    shm = Path(options.shm)
    for arch_name, method, configs, *rest in PLANS[options.plan]:
        checkpointing = rest[0] if rest else "unsloth"
        if time.perf_counter() - began > options.budget_s - 30:
            log(f"budget: skipping {arch_name} {method}")
            continue
        arch = archs[arch_name]
        folder = shm / arch_name.replace("/", "--")
        if built != arch_name:
            if built is not None:
                shutil.rmtree(shm / built.replace("/", "--"), ignore_errors=True)
            start = time.perf_counter()
            try:
                build_weights(torch, arch, folder, device)
            except Exception as error:
                write(out, {"kind": "error", "arch": arch_name, "error": repr(error)[:300]})
                continue
            built = arch_name
            log(f"built {arch_name} in {time.perf_counter() - start:.1f}s")
        start = time.perf_counter()
        max_seq = max(config[1] for config in configs)
        # what earlier loads left allocated (analyze.py subtracts it): measured, not inferred from the model
        allocated_before = torch.cuda.memory_allocated() / GIB if not cpu else 0.0
        try:
            model, tokenizer = load(FastLanguageModel, torch, folder, max_seq, method, checkpointing, cpu)
        except Exception as error:  # one architecture failing must not cost the others' minutes
            write(out, {"kind": "error", "arch": arch_name, "method": method, "error": repr(error)[:300]})
            continue
        loaded = {
            "kind": "load",
            "arch": arch_name,
            "method": method,
            "gradient_checkpointing": checkpointing,
            "load_s": round(time.perf_counter() - start, 1),
            "nvml_after_load_gib": round((meter.used() - idle) / GIB, 3),
            "allocated_before_load_gib": round(allocated_before, 3),
            "allocated_after_load_gib": round(torch.cuda.memory_allocated() / GIB, 3) if not cpu else 0,
            "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "total_params": sum(p.numel() for p in model.parameters()),
        }
        write(out, loaded)
        for batch, seq, *optimizer in sorted(configs, key=lambda c: c[0] * c[1]):
            optimizer = optimizer[0] if optimizer else "adamw_8bit"
            if time.perf_counter() - began > options.budget_s:
                log(f"budget: skipping {arch_name} {method} b{batch} s{seq}")
                continue
            gc.collect()
            if not cpu:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            meter.reset()
            steps = options.warmup + options.timed
            clock = StepClock(torch, device, steps if options.count_syncs else None)
            record = {
                "kind": "config",
                "arch": arch_name,
                "method": method,
                "batch": batch,
                "seq": seq,
                "tokens": batch * seq,
                "rank": 16,
                "gradient_checkpointing": checkpointing,
                "optimizer": optimizer,
            }
            start = time.perf_counter()
            try:
                loss, padding_free = train_one(
                    torch,
                    model,
                    tokenizer,
                    batch,
                    seq,
                    arch["config"]["vocab_size"],
                    steps + (1 if options.count_syncs else 0),
                    device,
                    clock,
                    optimizer,
                )
                record["loss"] = round(float(loss), 4)
                record["padding_free"] = padding_free
            except torch.OutOfMemoryError as error:  # a result too: the config does not fit this card
                record["oom"] = str(error).splitlines()[0][:200]
            except Exception as error:  # recorded, and the next configuration still runs
                record["error"] = repr(error)[:300]
            timed = clock.seconds[options.warmup : steps]
            record.update(
                {
                    "nvml_peak_gib": round((meter.peak - idle) / GIB, 3) if not cpu else None,
                    "reserved_gib": round(torch.cuda.max_memory_reserved() / GIB, 3) if not cpu else None,
                    "allocated_gib": round(torch.cuda.max_memory_allocated() / GIB, 3) if not cpu else None,
                    "nvml_samples": meter.samples,
                    "step_seconds": [round(s, 4) for s in clock.seconds],
                    "seconds_per_step": round(statistics.median(timed), 4) if timed else None,
                    "wall_s": round(time.perf_counter() - start, 1),
                }
            )
            if options.count_syncs:
                record["syncs_per_step"] = clock.syncs
            write(out, record)
        del model, tokenizer
        gc.collect()
        if not cpu:
            torch.cuda.empty_cache()
    if built is not None:
        shutil.rmtree(shm / built.replace("/", "--"), ignore_errors=True)
    meter.stop()
    log(f"done in {time.perf_counter() - began:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
