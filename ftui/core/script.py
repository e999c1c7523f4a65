"""`ftui script CONFIG.toml`: the run as a standalone, readable Unsloth script.

The script does what ftui's trainer does, with nothing but unsloth, datasets and TRL: load with
FastLanguageModel, attach LoRA, render each row with the same chat template, train with SFTTrainer
(max_length set), save the adapter. It is the correct version of the usual `model.train(dataset=...)`
snippet, and a user can take it to any machine.
"""

from __future__ import annotations

from ftui.core.run_config import RunConfig

_LOADERS = {
    ".jsonl": 'load_dataset("json", data_files=DATA, split="train")',
    ".json": 'load_dataset("json", data_files=DATA, split="train")',
    ".csv": 'load_dataset("csv", data_files=DATA, split="train")',
    ".tsv": 'load_dataset("csv", data_files=DATA, split="train", delimiter="\\t")',
    ".parquet": 'load_dataset("parquet", data_files=DATA, split="train")',
}

_CONVERTERS = {
    "alpaca": """def to_messages(row):
    # Alpaca: instruction (+ input) -> output.
    user = row[{instruction!r}]
    if row.get({input!r}):
        user += "\\n\\n" + row[{input!r}]
    messages = [{{"role": "user", "content": user}}, {{"role": "assistant", "content": row[{output!r}]}}]
    if row.get({system!r}):
        messages.insert(0, {{"role": "system", "content": row[{system!r}]}})
    return messages
""",
    "prompt_completion": """def to_messages(row):
    # prompt / completion pairs.
    return [{{"role": "user", "content": row[{prompt!r}]}}, {{"role": "assistant", "content": row[{completion!r}]}}]
""",
    "sharegpt": """ROLES = {{"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}}


def to_messages(row):
    # ShareGPT: a list of {{"from", "value"}} turns.
    return [{{"role": ROLES[turn["from"]], "content": turn["value"]}} for turn in row[{conversations!r}]]
""",
    "messages": """def to_messages(row):
    # OpenAI / ChatML messages: already a list of {{"role", "content"}}.
    return [{{"role": m["role"], "content": m["content"]}} for m in row[{messages!r}]]
""",
    "text": """def to_messages(row):
    return None  # plain text: trained on as it is, followed by EOS
""",
}
_GENERIC_CONVERTER = """ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


def to_messages(row):
    # The format is recognised by its columns, as ftui does (alpaca, sharegpt, messages, prompt/completion, text).
    if "messages" in row:
        return [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
    if "conversations" in row:
        return [{"role": ROLES[t["from"]], "content": t["value"]} for t in row["conversations"]]
    if "instruction" in row:
        user = row["instruction"] + ("\\n\\n" + row["input"] if row.get("input") else "")
        return [{"role": "user", "content": user}, {"role": "assistant", "content": row["output"]}]
    if "prompt" in row:
        return [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["completion"]}]
    return None  # plain text
"""
_DEFAULT_FIELDS = {
    "alpaca": {"instruction": "instruction", "input": "input", "output": "output", "system": "system"},
    "prompt_completion": {"prompt": "prompt", "completion": "completion"},
    "sharegpt": {"conversations": "conversations"},
    "messages": {"messages": "messages"},
    "text": {"text": "text"},
}


def _detected(config: RunConfig) -> tuple[str | None, dict[str, str]]:
    """The data's format and field -> column mapping as ftui's inspector sees it (None when it cannot tell)."""
    try:
        from ftui.core.data.convert import detect
        from ftui.core.data.readers import open_source

        found = detect(open_source(config.data), config.format, config.mapping or None)
        return found.format, dict(found.mapping)
    except Exception:  # an HF dataset that is not cached, say: the script recognises rows by their columns
        return config.format, dict(config.mapping)


def _loader(data: str) -> str:
    for suffix, code in _LOADERS.items():
        if data.lower().endswith(suffix):
            return code
    return 'load_dataset(DATA, split="train")'


def generate_script(config: RunConfig) -> str:
    s = config.settings
    fmt, mapping = _detected(config)
    if fmt in _CONVERTERS:
        fields = {**_DEFAULT_FIELDS[fmt], **mapping}
        converter = _CONVERTERS[fmt].format(**fields)
        text_column = fields.get("text", "text")
    else:
        converter, text_column = _GENERIC_CONVERTER, "text"
    template = config.template or "model"
    if template == "model":
        template_code = "# The model's own chat template (the tokenizer's), as ftui's `template = \"model\"`."
    elif template.endswith(".jinja"):
        template_code = f'tokenizer.chat_template = open({template!r}, encoding="utf-8").read()'
    else:
        template_code = (
            f"tokenizer = get_chat_template(tokenizer, chat_template={template!r})"
            "  # also maps EOS to the template's stop word"
        )
    full = s.method == "full"
    gc = {"unsloth": '"unsloth"', "plain": "True", "none": "False"}[s.gradient_checkpointing]
    peft = (
        ""
        if full
        else f"""
model = FastLanguageModel.get_peft_model(
    model,
    r={s.rank},
    lora_alpha={s.alpha},
    lora_dropout={s.dropout},  # 0 keeps Unsloth's fast path
    bias="none",
    target_modules={list(s.target_modules)!r},
    use_gradient_checkpointing={gc},
    random_state={s.seed},
)
"""
    )
    steps = f"max_steps={s.max_steps}," if s.max_steps else f"num_train_epochs={s.epochs},"
    eval_lines = ""
    eval_args = ""
    eval_dataset = ""
    if s.eval_split:
        eval_lines = f"""
split = dataset.train_test_split(test_size={s.eval_split}, seed={s.seed})
dataset, eval_dataset = split["train"], split["test"]
"""
        eval_args = f'\n        eval_strategy="steps",\n        eval_steps={s.save_steps},'
        eval_dataset = "\n    eval_dataset=eval_dataset,"
    responses = ""
    if s.responses_only:
        try:
            from ftui.core.data import template_markers

            instruction, response = template_markers(template) if template != "model" else (None, None)
        except Exception:
            instruction, response = None, None
        responses = f"""
# Loss on the answers only: the prompt part of each row is masked.
trainer = train_on_responses_only(trainer, instruction_part={instruction!r}, response_part={response!r})
"""
    save = "model" if full else "adapter"
    exports = ""
    if s.save_merged and not full:
        exports += 'model.save_pretrained_merged("merged", tokenizer, save_method="merged_16bit")\n'
    if s.save_gguf:
        exports += f'model.save_pretrained_gguf("gguf", tokenizer, quantization_method={s.save_gguf!r})  # needs llama.cpp\n'
    launch = (
        f"# Several GPUs: torchrun --nproc-per-node={len(s.gpus)} train.py  (one model copy per GPU)\n"
        if len(s.gpus) > 1
        else ""
    )
    return f'''#!/usr/bin/env python3
"""Fine-tune {config.model} on {config.data} with Unsloth ({s.method}{"" if full else f", r={s.rank}"}).

Generated by `ftui script` from a run config; it does what `ftui train` does with that config.
Needs: pip install "unsloth==2026.10.9" (it brings TRL, transformers, datasets and PEFT).
"""
{launch}
import unsloth  # noqa: F401  first: Unsloth patches transformers, TRL and PEFT when they load
from unsloth import FastLanguageModel, is_bfloat16_supported
from unsloth.chat_templates import get_chat_template, train_on_responses_only  # noqa: F401

import torch
from datasets import load_dataset
from trl import SFTConfig, SFTTrainer

MODEL = {config.load_repo!r}
DATA = {config.data!r}
MAX_LENGTH = {s.seq}

model, tokenizer = FastLanguageModel.from_pretrained(
    model_name=MODEL,
    max_seq_length=MAX_LENGTH,
    dtype=None,  # bf16 where the GPU has it, else fp16
    load_in_4bit={s.method == "qlora"},
    full_finetuning={full},
)
{peft}
{template_code}
# A tokenizer that adds BOS by itself must not get a second one from the template.
ADDS_BOS = tokenizer.bos_token is not None and tokenizer("x").input_ids[:1] == [tokenizer.bos_token_id]


{converter}

def to_text(row):
    messages = to_messages(row)
    if messages is None:
        text = row[{text_column!r}] + tokenizer.eos_token
    else:
        text = tokenizer.apply_chat_template(messages, tokenize=False)
    if ADDS_BOS and tokenizer.bos_token and text.startswith(tokenizer.bos_token):
        text = text[len(tokenizer.bos_token):]
    return {{"text": text}}


dataset = {_loader(config.data)}
dataset = dataset.map(to_text, remove_columns=dataset.column_names)
{eval_lines}
trainer = SFTTrainer(
    model=model,
    processing_class=tokenizer,
    train_dataset=dataset,{eval_dataset}
    args=SFTConfig(
        output_dir="checkpoints",
        dataset_text_field="text",
        max_length=MAX_LENGTH,  # TRL's default is 1024: set it, or longer rows are cut
        packing={s.packing},
        per_device_train_batch_size={s.batch},
        gradient_accumulation_steps={s.grad_accum},
        {steps}
        learning_rate={s.learning_rate},
        warmup_steps={s.warmup_steps},
        weight_decay={s.weight_decay},
        lr_scheduler_type={s.lr_scheduler!r},
        optim={s.optimizer!r},
        seed={s.seed},
        logging_steps=1,
        save_strategy="steps",
        save_steps={s.save_steps},{eval_args}
        bf16=torch.cuda.is_available() and is_bfloat16_supported(),
        fp16=torch.cuda.is_available() and not is_bfloat16_supported(),
        report_to="none",
    ),
)
{responses}
trainer.train()  # trainer.train(resume_from_checkpoint=True) continues from the last checkpoint

model.save_pretrained({save!r})  # {"the whole model" if full else "the LoRA adapter"}
tokenizer.save_pretrained({save!r})
{exports}'''
