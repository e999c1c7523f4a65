"""`ftui script` for a vision run: the same training as ftui's trainer on a GPU, as a standalone script.

It is Unsloth's vision recipe (FastVisionModel, get_peft_model with the four finetune_* flags,
UnslothVisionDataCollator, SFTTrainer with remove_unused_columns=False, dataset_text_field="" and
skip_prepare_dataset) with a row converter that gives the collator what ftui's trainer gives it: TRL's
messages with {"type": "image"} parts, and the images as {"bytes", "path"} with paths taken from the data
file's folder. Everything runs under `if __name__ == "__main__"`, so a test can import to_example and check
it against ftui's own conversion.
"""

from __future__ import annotations

from ftui.core.run_config import RunConfig

_CONVERTER = '''
FORMAT = {fmt!r}
FIELDS = {fields!r}  # format field -> your column, as `ftui inspect` detected it
ROLES = {{"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system",
         "model": "assistant", "input": "user", "output": "assistant"}}
IMAGE = "\\ufffc"  # where an image sits inside a turn's text, while converting


def image_of(value):
    """An image as the collator reads it: {{"bytes", "path"}}; relative paths start at the data's folder."""
    if isinstance(value, dict):
        if value.get("bytes"):
            return {{"bytes": value["bytes"], "path": None}}
        value = value.get("path") or value.get("url") or value.get("image") or value.get("image_url")
        return image_of(value)
    if isinstance(value, (bytes, bytearray)):
        return {{"bytes": bytes(value), "path": None}}
    text = str(value).strip()
    if not text.startswith(("http://", "https://", "data:")):
        text = os.path.normpath(os.path.join(DATA_DIR, os.path.expanduser(text)))
    return {{"bytes": None, "path": text}}


def turn_text(content, inline):
    if isinstance(content, str):
        inline.extend([None] * content.count("<image>"))
        return content.replace("<image>", IMAGE)
    pieces = []
    for part in content:
        if part.get("type") in ("image", "image_url"):
            inline.append(next((part[k] for k in ("image", "url", "path", "image_url") if part.get(k)), None))
            pieces.append(IMAGE)
        else:
            pieces.append(part["text"])
    return "".join(pieces)


def to_turns(row, inline):
    if FORMAT in ("messages", "sharegpt"):
        turns = row[FIELDS["messages" if FORMAT == "messages" else "conversations"]]
        if isinstance(turns, str):
            turns = json.loads(turns)
        return [
            {{"role": ROLES[t.get("role", t.get("from"))], "content": turn_text(t.get("content", t.get("value")), inline)}}
            for t in turns
        ]
    if FORMAT == "alpaca":
        user = row[FIELDS["instruction"]]
        if row.get(FIELDS.get("input", "input")):
            user += "\\n\\n" + row[FIELDS["input"]]
        turns = [{{"role": "user", "content": user}}, {{"role": "assistant", "content": row[FIELDS["output"]]}}]
        if row.get(FIELDS.get("system", "system")):
            turns.insert(0, {{"role": "system", "content": row[FIELDS["system"]]}})
        return turns
    if FORMAT == "prompt_completion":
        turns = [{{"role": "user", "content": row[FIELDS["prompt"]]}}, {{"role": "assistant", "content": row[FIELDS["completion"]]}}]
        if row.get(FIELDS.get("system", "system")):
            turns.insert(0, {{"role": "system", "content": row[FIELDS["system"]]}})
        return turns
    return [{{"role": "user", "content": ""}}, {{"role": "assistant", "content": row[FIELDS["text"]]}}]  # a caption


def parts(text):
    out = []
    pieces = text.split(IMAGE)
    for index, piece in enumerate(pieces):
        if index:
            out.append({{"type": "image"}})
            piece = piece.removeprefix("\\n")
        if index < len(pieces) - 1:
            piece = piece.removesuffix("\\n")
        if piece:
            out.append({{"type": "text", "text": piece}})
    return out


def to_example(row):
    """A row as TRL's messages + images: image parts where the row puts its images, else first in the
    first user turn (the image column's images)."""
    inline = []
    turns = to_turns(row, inline)
    column = row.get(FIELDS["image"]) if FIELDS.get("image") else None
    column = [v for v in (column if isinstance(column, list) else [column]) if v not in (None, "", {{}})]
    if not inline and column:
        first = next(i for i, t in enumerate(turns) if t["role"] == "user")
        turns[first]["content"] = IMAGE * len(column) + turns[first]["content"]
        inline = [None] * len(column)
    queue = list(column)
    images = [image_of(v if v is not None else queue.pop(0)) for v in inline]
    return {{"messages": [{{"role": t["role"], "content": parts(t["content"])}} for t in turns], "images": images}}
'''


def generate_vision_script(config: RunConfig, fmt: str | None, mapping: dict[str, str]) -> str:
    s = config.settings
    full = s.method == "full"
    gc = {"unsloth": '"unsloth"', "plain": "True", "none": "False"}[s.gradient_checkpointing]
    template = config.template or "model"
    if template == "model":
        template_code = "# The processor's own chat template, as ftui's vision runs keep it."
    else:
        template_code = (
            f'processor.chat_template = open({template!r}, encoding="utf-8").read()  # ftui: --template'
            if template.endswith(".jinja")
            else f"processor = get_chat_template(processor, {template!r})  # ftui: --template"
        )
    peft = (
        ""
        if full
        else f"""
model = FastVisionModel.get_peft_model(
    model,
    r={s.rank},
    lora_alpha={s.alpha},
    lora_dropout={s.dropout},
    bias="none",
    finetune_vision_layers={s.finetune_vision_layers},  # the image tower
    finetune_language_layers={s.finetune_language_layers},  # the language model
    finetune_attention_modules={s.finetune_attention_modules},
    finetune_mlp_modules={s.finetune_mlp_modules},
    use_gradient_checkpointing={gc},
    random_state={s.seed},
)"""
    )
    masking = ""
    if s.responses_only:
        try:
            from ftui.core.data import template_markers

            instruction, response = template_markers(template) if template != "model" else (None, None)
        except Exception:
            instruction, response = None, None
        masking = (
            f"\n        train_on_responses_only=True,  # loss on the answers only"
            f"\n        instruction_part={instruction!r},  # None: read the markers off your template"
            f"\n        response_part={response!r},"
        )
    steps = f"max_steps={s.max_steps}," if s.max_steps else f"num_train_epochs={s.epochs},"
    fields = {**mapping}
    converter = _CONVERTER.format(fmt=fmt or "messages", fields=fields)
    loader = _loader(config.data)
    save = "model" if full else "adapter"
    from ftui.core.script import _docstring_text

    model_shown, data_shown = _docstring_text(config.model), _docstring_text(config.data)
    return f'''#!/usr/bin/env python3
"""Fine-tune the vision model {model_shown} on {data_shown} with Unsloth ({s.method}{"" if full else f", r={s.rank}"}).

Generated by `ftui script` from a run config; it does what `ftui train` does with that config on a GPU.
Needs: pip install "unsloth==2026.10.9" and a GPU (Unsloth's vision path does not run on CPU).
"""

import json
import os

import unsloth  # noqa: F401  first: Unsloth patches transformers, TRL and PEFT when they load
from unsloth import FastVisionModel, is_bfloat16_supported
from unsloth.chat_templates import get_chat_template  # noqa: F401
from unsloth.trainer import UnslothVisionDataCollator

import torch
from datasets import Dataset, load_dataset  # noqa: F401
from trl import SFTConfig, SFTTrainer

MODEL = {config.load_repo!r}
DATA = {config.data!r}
DATA_DIR = os.path.dirname(os.path.abspath(DATA))
MAX_LENGTH = {s.seq}
{converter}

def main():
    model, processor = FastVisionModel.from_pretrained(
        model_name=MODEL,
        max_seq_length=MAX_LENGTH,
        dtype=None,  # bf16 where the GPU has it, else fp16
        load_in_4bit={s.method == "qlora"},
        full_finetuning={full},
        use_gradient_checkpointing={gc},
    )
{_indent(peft)}
    {template_code}
    rows = {loader}
    dataset = Dataset.from_list([to_example(row) for row in rows])
    FastVisionModel.for_training(model)
    trainer = SFTTrainer(
        model=model,
        processing_class=processor,
        data_collator=UnslothVisionDataCollator(
            model, processor, max_seq_length=MAX_LENGTH,{masking}
        ),
        train_dataset=dataset,
        args=SFTConfig(
            output_dir="checkpoints",
            # What vision rows need: the collator renders, tokenizes and processes images per batch.
            remove_unused_columns=False,
            dataset_text_field="",
            dataset_kwargs={{"skip_prepare_dataset": True}},
            max_length=MAX_LENGTH,
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
            save_steps={s.save_steps},
            bf16=torch.cuda.is_available() and is_bfloat16_supported(),
            fp16=torch.cuda.is_available() and not is_bfloat16_supported(),
            report_to="none",
        ),
    )
    trainer.train()  # trainer.train(resume_from_checkpoint=True) continues from the last checkpoint
    model.save_pretrained({save!r})
    processor.save_pretrained({save!r})


if __name__ == "__main__":
    main()
'''


def _loader(data: str) -> str:
    lowered = data.lower()
    if lowered.endswith((".jsonl", ".ndjson")):
        return "[json.loads(line) for line in open(DATA, encoding='utf-8') if line.strip()]"
    if lowered.endswith(".json"):
        return "json.load(open(DATA, encoding='utf-8'))"
    for suffix, kind in ((".csv", "csv"), (".parquet", "parquet")):
        if lowered.endswith(suffix):
            return f'load_dataset("{kind}", data_files=DATA, split="train")'
    return 'load_dataset(DATA, split="train")'


def _indent(code: str) -> str:
    return "\n".join(("    " + line) if line else line for line in code.splitlines())
