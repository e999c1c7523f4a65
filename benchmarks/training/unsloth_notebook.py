"""The peer: Unsloth as its notebooks use it (the Llama 3.1 8B / Qwen3 Alpaca notebooks): QLoRA r=16 on all
linear layers, Unsloth gradient checkpointing, SFTTrainer with micro-batch 2 and gradient accumulation 4,
adamw_8bit, lr 2e-4, 5 warm-up steps, seed 3407; padding_free left to Unsloth, as the notebooks leave it;
each row's text ends with the tokenizer's EOS, as the notebooks' formatting function appends it.

  python benchmarks/training/unsloth_notebook.py --model DIR --data FILE --steps N --metrics OUT.jsonl

The only addition is instrumentation that does not change training: include_num_input_tokens_seen
("non_padding") and a callback writing each step's time, loss and tokens, as ftui's metrics.jsonl does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--grad-accum", type=int, default=4)
    parser.add_argument("--optim", default="adamw_8bit")
    parser.add_argument(
        "--lr", type=float, default=2e-4, help="the notebooks' 2e-4 (a CPU rehearsal: larger)"
    )
    parser.add_argument("--no-4bit", action="store_true", help="16-bit LoRA (for a CPU rehearsal)")
    parser.add_argument(
        "--no-eos",
        action="store_true",
        help="rows without the EOS the notebooks append (runs before 2026-11-30's third lease)",
    )
    parser.add_argument("--bos", action="store_true", help="start each row with BOS, as ftui's rows do")
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()

    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()
    # isort: off
    import unsloth  # noqa: F401  (first, as the notebooks do)
    from unsloth import FastLanguageModel, is_bfloat16_supported

    import torch
    from datasets import load_dataset
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer
    # isort: on

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=args.model, max_seq_length=args.seq, dtype=None, load_in_4bit=not args.no_4bit
    )
    model = FastLanguageModel.get_peft_model(
        model,
        r=16,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        lora_alpha=16,
        lora_dropout=0,
        bias="none",
        use_gradient_checkpointing="unsloth",
        random_state=3407,
    )
    cuda = torch.cuda.is_available()
    out = open(args.metrics, "w")

    class Metrics(TrainerCallback):
        def on_log(self, a, state, control, logs=None, **kw):  # the same fields as ftui's metrics.jsonl
            if logs and "loss" in logs:
                record = {
                    "time": time.time(),
                    "step": state.global_step,
                    "loss": logs["loss"],
                    "num_tokens": state.num_input_tokens_seen or logs.get("num_tokens"),
                    "learning_rate": logs.get("learning_rate"),
                    "grad_norm": logs.get("grad_norm"),
                    "torch_peak_gib": torch.cuda.max_memory_reserved() / 2**30 if cuda else None,
                }
                out.write(json.dumps(record) + "\n")
                out.flush()

    dataset = load_dataset("json", data_files=args.data, split="train")
    if not args.no_eos:
        # The notebooks' formatting_prompts_func: "Must add EOS_TOKEN, otherwise your generation will go on
        # forever!" (text + tokenizer.eos_token). Unsloth's own tokenizing of a text field adds none.
        eos = tokenizer.eos_token
        dataset = dataset.map(lambda row: {"text": row["text"] + eos})
    if args.bos and tokenizer.bos_token and tokenizer("x").input_ids[:1] != [tokenizer.bos_token_id]:
        # what ftui's rows carry: the BOS a tokenizer that does not add one itself leaves out
        bos = tokenizer.bos_token
        dataset = dataset.map(lambda row: {"text": bos + row["text"]})
    trainer = SFTTrainer(
        model=model,
        processing_class=tokenizer,
        train_dataset=dataset,
        callbacks=[Metrics()],
        args=SFTConfig(
            dataset_text_field="text",
            max_length=args.seq,
            per_device_train_batch_size=args.batch,
            gradient_accumulation_steps=args.grad_accum,
            warmup_steps=5,
            max_steps=args.steps,
            learning_rate=args.lr,
            bf16=cuda and is_bfloat16_supported(),
            logging_steps=1,
            optim=args.optim,
            weight_decay=0.01,
            lr_scheduler_type="linear",
            seed=3407,
            output_dir="/tmp/unsloth-notebook-outputs",
            report_to="none",
            save_strategy="no",
            include_num_input_tokens_seen="non_padding",
        ),
    )
    print(f"unsloth notebook: padding_free={getattr(trainer.args, 'padding_free', None)}", flush=True)
    ids = trainer.train_dataset[0]["input_ids"]
    print(f"unsloth notebook: first row {len(ids)} tokens, starts {ids[:3]}, ends {ids[-3:]}", flush=True)
    trainer.train()
    print("unsloth notebook: done", flush=True)


if __name__ == "__main__":
    main()
