"""The vision half of the training process: image+text rows in, Unsloth's vision path out.

On a GPU this is Unsloth's own recipe: FastVisionModel.from_pretrained (QLoRA: 4-bit; LoRA: 16-bit) returns
the model and its processor, FastVisionModel.get_peft_model puts LoRA on the parts chosen
(finetune_vision_layers / _language_layers / _attention_modules / _mlp_modules), and TRL's SFTTrainer trains
with UnslothVisionDataCollator and the settings vision needs (remove_unused_columns=False,
dataset_text_field="", dataset_kwargs={"skip_prepare_dataset": True}: the collator renders, tokenizes and
processes images per batch).

On a machine without a GPU, Unsloth's CPU backend (unsloth 2026.10.9, unsloth/_cpu_init.py) replaces
FastVisionModel.from_pretrained and unsloth.trainer.UnslothVisionDataCollator with stubs that raise
NotImplementedError("vision / audio models are not supported on the CPU backend yet"), and its FastModel
loads with AutoModelForCausalLM and AutoTokenizer (no processor) and drops the finetune_* flags. So on CPU
the model is loaded the way the GPU loader does underneath (transformers' AutoModelForImageTextToText and
AutoProcessor, float32), LoRA goes on through PEFT with the regex Unsloth's get_peft_model builds from the
same four flags (unsloth_zoo.peft_utils.get_peft_regex), and everything after that is the GPU's code: the
real UnslothVisionDataCollator (unsloth_zoo.vision_utils, which runs on CPU), SFTTrainer, the callbacks.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ftui.core.errors import UserError
from ftui.core.plan import TrainingSettings
from ftui.core.run_config import RunConfig
from ftui.core.runs.directory import RunDirectory
from ftui.core.runs.records import Sample

MODEL_TEMPLATE = "model"


def log(message: str) -> None:
    print(f"[ftui] {message}", flush=True)


def on_cpu() -> bool:
    import unsloth

    return getattr(unsloth, "DEVICE_TYPE", "cuda") == "cpu"


# --- data -------------------------------------------------------------------------------------------------


def read_examples(config: RunConfig) -> list[Any]:
    """Every row as a VisionExample, every image located and checked before the model loads: a bad image
    fails the run in seconds with its row, not mid-epoch."""
    from ftui.core.data.convert import vision_examples
    from ftui.core.data.images import ImageProblem, UrlFetcher, check_images
    from ftui.core.data.problems import BadRowError, RowProblem
    from ftui.core.data.readers import open_source

    source = open_source(config.data)
    examples = list(vision_examples(source, format=config.format, mapping=config.mapping or None))
    if not examples:
        raise UserError(f"The dataset {config.data} has no rows to train on; check the file.")
    results = check_images([ref for ex in examples for ref in ex.images], UrlFetcher())
    position = 0
    for example in examples:
        checked = results[position : position + len(example.images)]
        position += len(example.images)
        bad = next((r for r in checked if isinstance(r, ImageProblem)), None)
        if bad is not None:
            raise BadRowError(RowProblem(bad.kind, bad.detail).at(source.where(example.line), example.line))
    return examples


def vision_dataset(examples: list[Any]) -> Any:
    """The rows SFTTrainer iterates (TRL 1.15 takes a datasets.Dataset only): TRL's {"messages", "images"},
    each image as the `datasets` Image(decode=False) stores one, {"bytes", "path"} (a file's path, a URL, or
    the bytes the data held), decoded by the collator when a batch asks for it: 10,000 photos are not held
    in RAM. The path is the checked absolute one, so the run does not depend on its working folder."""
    from datasets import Dataset

    def stored(ref: Any) -> dict[str, Any]:
        if ref.kind == "bytes":
            return {"bytes": ref.value, "path": None}
        if ref.kind == "pil":
            import io

            out = io.BytesIO()
            ref.value.convert("RGB").save(out, format="PNG")
            return {"bytes": out.getvalue(), "path": None}
        return {"bytes": None, "path": ref.value}

    return Dataset.from_dict(
        {
            "messages": [example.messages for example in examples],
            "images": [[stored(ref) for ref in example.images] for example in examples],
        }
    )


# --- model ------------------------------------------------------------------------------------------------


def load(config: RunConfig, token: str | None) -> tuple[Any, Any, Any]:
    """(model with LoRA or full weights, processor, the loader whose for_training/for_inference apply)."""
    settings = config.settings
    full = settings.method == "full"
    gc = {"unsloth": "unsloth", "plain": True, "none": False}[settings.gradient_checkpointing]
    if on_cpu():
        return _load_on_cpu(config, token, gc)
    from unsloth import FastVisionModel

    model, processor = FastVisionModel.from_pretrained(
        model_name=config.load_repo,
        max_seq_length=settings.seq,
        dtype=None,
        load_in_4bit=settings.method == "qlora",
        full_finetuning=full,
        use_gradient_checkpointing=gc,
        token=token,
    )
    if not full:
        model = FastVisionModel.get_peft_model(
            model,
            r=settings.rank,
            lora_alpha=settings.alpha,
            lora_dropout=settings.dropout,
            bias="none",
            finetune_vision_layers=settings.finetune_vision_layers,
            finetune_language_layers=settings.finetune_language_layers,
            finetune_attention_modules=settings.finetune_attention_modules,
            finetune_mlp_modules=settings.finetune_mlp_modules,
            use_gradient_checkpointing=gc,
            random_state=settings.seed,
        )
    return model, processor, FastVisionModel


def _load_on_cpu(config: RunConfig, token: str | None, gc: Any) -> tuple[Any, Any, Any]:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    settings = config.settings
    if settings.method == "qlora":
        log(
            "CPU: Unsloth's CPU backend has no 4-bit vision loading; the weights load in 32 bit (QLoRA becomes LoRA)"
        )
    log(
        "CPU: Unsloth's FastVisionModel needs a GPU; loading with transformers + PEFT, training with Unsloth's collator"
    )
    model = AutoModelForImageTextToText.from_pretrained(config.load_repo, dtype=torch.float32, token=token)
    processor = AutoProcessor.from_pretrained(config.load_repo, token=token)
    if gc:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.config.use_cache = False
    if settings.method == "full":
        return model, processor, None
    from peft import LoraConfig, get_peft_model
    from unsloth_zoo.peft_utils import get_peft_regex

    torch.manual_seed(settings.seed)
    targets = get_peft_regex(
        model,
        finetune_vision_layers=settings.finetune_vision_layers,
        finetune_language_layers=settings.finetune_language_layers,
        finetune_attention_modules=settings.finetune_attention_modules,
        finetune_mlp_modules=settings.finetune_mlp_modules,
    )
    lora = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        bias="none",
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora), processor, None


def apply_template(run: RunDirectory, config: RunConfig, processor: Any) -> str:
    """The processor's own chat template (written beside the run for the record), or the one the config
    names; returns the template file or name the response markers are read from."""
    from ftui.core.data.templates import get_template

    name = config.template or MODEL_TEMPLATE
    if name != MODEL_TEMPLATE:
        jinja = get_template(name).jinja
        processor.chat_template = jinja
        processor.tokenizer.chat_template = jinja
    own = processor.chat_template
    if isinstance(own, dict):
        own = own.get("default")
    if not own:
        raise UserError(
            f"{config.load_repo} has no chat template of its own; name one with --template (e.g. gemma-3)."
        )
    path = run.path / "chat_template.jinja"
    path.write_text(own, encoding="utf-8")
    return str(path)


def collator(model: Any, processor: Any, settings: TrainingSettings, template: str | None) -> Any:
    """Unsloth's vision collator (the real one from unsloth_zoo, also on CPU): renders each row with the
    processor's template, processes its images, masks padding and image tokens, and with responses-only
    the prompts too."""
    from unsloth_zoo.vision_utils import UnslothVisionDataCollator

    markers: dict[str, Any] = {}
    # The processor's own template (None) has no markers ftui knows: the collator then trains on the
    # whole row, as Unsloth's vision notebooks do.
    if settings.responses_only and template is not None:
        from ftui.core.data import template_markers

        instruction, response = template_markers(template)
        markers = {
            "train_on_responses_only": True,
            "instruction_part": instruction,
            "response_part": response,
        }
    return UnslothVisionDataCollator(model, processor, max_seq_length=settings.seq, **markers)


def sft_settings() -> dict[str, Any]:
    """What SFTConfig needs for vision rows (Unsloth's vision notebooks; TRL 1.15's SFTTrainer)."""
    return {
        "remove_unused_columns": False,  # the collator needs the messages and images columns
        "dataset_text_field": "",
        "dataset_kwargs": {"skip_prepare_dataset": True},  # rendered and tokenized per batch by the collator
        "packing": False,  # TRL refuses packing for vision rows
    }


# --- after training ---------------------------------------------------------------------------------------


def write_samples(
    run: RunDirectory, model: Any, processor: Any, examples: list[Any], max_new_tokens: int, loader: Any
) -> None:
    """Greedy answers to held-out image+question rows, with the images saved where the runs step finds them."""
    import torch

    from ftui.core.data.formats import text_of_parts
    from ftui.core.data.images import UrlFetcher, load_image

    if loader is not None:
        loader.for_inference(model)
    else:
        model.eval()
    fetcher = UrlFetcher()
    started = time.monotonic()
    samples = []
    tokenizer = getattr(processor, "tokenizer", processor)
    for example in examples:
        images = [load_image(ref, fetcher) for ref in example.images]
        prompt = processor.apply_chat_template(example.prompt, add_generation_prompt=True, tokenize=False)
        inputs = processor(
            text=[prompt], images=[images] if images else None, add_special_tokens=False, return_tensors="pt"
        )
        inputs = {k: v.to(model.device) for k, v in inputs.items()}
        with torch.inference_mode():
            output = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
        new = output[0][inputs["input_ids"].shape[1] :]
        question = "\n".join(text_of_parts(m["content"]) for m in example.prompt)
        samples.append(
            Sample(
                line=example.line,
                prompt=question,
                reference=example.reference,
                output=tokenizer.decode(new, skip_special_tokens=True),
                new_tokens=int(new.shape[0]),
                images=_shown_images(run, example, images),
            )
        )
    run.write_samples(samples)
    log(
        f"wrote {len(samples)} sample generations in {time.monotonic() - started:.1f} s to {run.samples_path.name}"
    )


def _shown_images(run: RunDirectory, example: Any, images: list[Any]) -> list[str]:
    shown = []
    for index, (ref, image) in enumerate(zip(example.images, images, strict=True), 1):
        if ref.kind == "path":
            shown.append(ref.value)
            continue
        folder = run.path / "samples"
        folder.mkdir(exist_ok=True)
        target = folder / f"row{example.line}-{index}.png"
        image.save(target, format="PNG")
        shown.append(str(target))
    return shown


def samples_from(examples: list[Any], count: int) -> list[Any]:
    return [example for example in examples if example.prompt and example.reference][:count]


def image_folder(path: str) -> Path:
    return Path(path).parent
