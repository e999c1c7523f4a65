"""`ftui script` for a vision run: the same training as ftui's trainer on a GPU, as a standalone script.

It is a Jinja template (ftui/core/templates/train_vision_script.py.jinja) rendered in the text script's
environment. It is Unsloth's vision recipe (FastVisionModel, get_peft_model with the four finetune_* flags,
UnslothVisionDataCollator, SFTTrainer with remove_unused_columns=False, dataset_text_field="" and
skip_prepare_dataset) with a row converter that gives the collator what ftui's trainer gives it: TRL's
messages with {"type": "image"} parts, and the images as {"bytes", "path"} with paths taken from the data
file's folder. Everything runs under `if __name__ == "__main__"`, so a test can import to_example and check
it against ftui's own conversion.
"""

from __future__ import annotations

from ftui.core.run_config import RunConfig

TEMPLATE = "train_vision_script.py.jinja"  # in ftui/core/templates/, beside the text script's


def generate_vision_script(config: RunConfig, fmt: str | None, mapping: dict[str, str]) -> str:
    from ftui.core.script import _CHECKPOINTING, _environment, _response_markers

    s = config.settings
    full = s.method == "full"
    template = config.template or "model"
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            config=config,
            settings=s,
            full=full,
            checkpointing=_CHECKPOINTING[s.gradient_checkpointing],
            template=template,
            markers=_response_markers(template) if s.responses_only else (None, None),
            fmt=fmt or "messages",
            fields=dict(mapping),
            loader=_loader(config.data),
            save="model" if full else "adapter",
        )
    )


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
