"""The peer: plain transformers + PEFT + TRL QLoRA, as the PEFT and TRL docs set it up, with the same
model, data and settings as ftui's recipe. No Unsloth anywhere in this process.

  python benchmarks/training/plain_peft.py --model DIR --data FILE --steps N --metrics OUT.jsonl
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
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--optim", default="adamw_8bit")
    parser.add_argument("--no-4bit", action="store_true", help="16-bit LoRA (for a CPU rehearsal)")
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()

    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()
    import torch
    from datasets import load_dataset
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    assert "unsloth" not in sys.modules
    cuda = torch.cuda.is_available()
    quant = (
        None
        if args.no_4bit
        else BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
    )
    model = AutoModelForCausalLM.from_pretrained(
        args.model,
        quantization_config=quant,
        dtype=torch.bfloat16,
        attn_implementation="sdpa",
        device_map={"": 0} if cuda else None,
    )
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if quant is not None:
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=True, gradient_checkpointing_kwargs={"use_reentrant": False}
        )
    model = get_peft_model(
        model,
        LoraConfig(
            r=args.rank,
            lora_alpha=args.rank,
            lora_dropout=0.0,
            bias="none",
            task_type="CAUSAL_LM",
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        ),
    )

    out = open(args.metrics, "w")

    class Metrics(TrainerCallback):
        def on_log(self, a, state, control, logs=None, **kw):  # same fields as ftui's metrics.jsonl
            if logs and "loss" in logs:
                record = {
                    "time": time.time(),
                    "step": state.global_step,
                    "loss": logs["loss"],
                    # TRL's count (attention mask sum: no padding), else the Trainer's non-padding count
                    "num_tokens": logs.get("num_tokens") or state.num_input_tokens_seen,
                    "torch_peak_gib": torch.cuda.max_memory_reserved() / 2**30 if cuda else None,
                }
                out.write(json.dumps(record) + "\n")
                out.flush()

    dataset = load_dataset("json", data_files=args.data, split="train")
    trainer = SFTTrainer(
        model=model,
        processing_class=tokenizer,
        train_dataset=dataset,
        callbacks=[Metrics()],
        args=SFTConfig(
            output_dir="/tmp/plain-peft-checkpoints",
            dataset_text_field="text",
            max_length=args.seq,
            per_device_train_batch_size=args.batch,
            gradient_accumulation_steps=args.grad_accum,
            include_num_input_tokens_seen="non_padding",
            max_steps=args.steps,
            learning_rate=2e-4,
            warmup_steps=5,
            weight_decay=0.01,
            lr_scheduler_type="linear",
            optim=args.optim,
            seed=3407,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            bf16=cuda,
            gradient_checkpointing=True,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        ),
    )
    trainer.train()
    print("plain peft: done", flush=True)


if __name__ == "__main__":
    main()
