"""Random-weight vision-language models of real dims, with a processor, written to a folder: what
measure_vision.py and the GPU vision test load. Nothing is downloaded.

The configs (vision_architectures.json) are the published config.json values of Qwen2.5-VL-3B/7B-Instruct,
Gemma-3-4B-it and Llama-3.2-11B-Vision-Instruct (the catalog's dims, plus each tower's), with the special
tokens at their real ids. The tokenizer is word-level: w0 .. w{vocab-1}, with each chat and image marker at
the id the config names, so a row of words is exactly as many tokens as it has words. The chat templates
render image parts as the real ones do. "tiny-*" entries: the same builders at tiny dims, for the CPU
rehearsal (`--plan cpu-tiny`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

QWEN_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LLAMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|image|>{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


def architectures() -> dict[str, Any]:
    return json.loads((HERE / "vision_architectures.json").read_text())


def word_tokenizer(vocab: int, special: dict[str, int], bos: str, eos: str, pad: str, extra: dict[str, str]):  # type: ignore[no-untyped-def]
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = {f"w{i}": i for i in range(vocab)}
    for token, index in special.items():
        words.pop(f"w{index}", None)
        words[token] = index
    tokenizer = Tokenizer(models.WordLevel(vocab=words, unk_token=pad))  # no id beyond the model's vocab
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in special])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        pad_token=pad,
        unk_token=pad,
        model_max_length=131072,
        extra_special_tokens=extra,
    )


def build(name: str, folder: Path, device: str = "cpu") -> Path:
    """Write `name`'s random bf16 weights (float32 on CPU), config, tokenizer and processor to `folder`."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    arch = architectures()[name]
    folder.mkdir(parents=True, exist_ok=True)
    config = AutoConfig.for_model(arch["model_type"], **{k: v for k, v in arch["config"].items()})
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(config, dtype=dtype)
    model.save_pretrained(folder, safe_serialization=True)
    del model
    processor(arch).save_pretrained(folder)
    return folder


def _images(kind: str, cpu_names: tuple[str, str], **kwargs: Any):  # type: ignore[no-untyped-def]
    """The image processor: the torchvision one where torchvision works (the GPU machine), else Pillow's."""
    import importlib

    try:
        import torchvision  # noqa: F401

        module = importlib.import_module(f"transformers.models.{kind}.image_processing_{kind}")
        return getattr(module, cpu_names[0])(**kwargs)
    except Exception:  # this machine's PyPI torchvision does not load beside CPU torch
        pil = importlib.import_module(f"transformers.models.{kind}.image_processing_pil_{kind}")
        return getattr(pil, cpu_names[1])(**kwargs)


def processor(arch: dict[str, Any]):  # type: ignore[no-untyped-def]
    kind = arch["model_type"]
    vocab = arch["vocab"]
    if kind == "qwen2_5_vl":
        from transformers import Qwen2_5_VLProcessor
        from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

        special = {"<|endoftext|>": arch["ids"]["pad"], "<|im_start|>": arch["ids"]["im_start"],
                   "<|im_end|>": arch["ids"]["eos"], "<|vision_start|>": arch["ids"]["vision_start"],
                   "<|vision_end|>": arch["ids"]["vision_end"], "<|image_pad|>": arch["ids"]["image"],
                   "<|video_pad|>": arch["ids"]["video"]}  # fmt: skip
        tokenizer = word_tokenizer(vocab, special, "<|endoftext|>", "<|im_end|>", "<|endoftext|>", {})
        tokenizer.chat_template = QWEN_TEMPLATE
        images = _images("qwen2_vl", ("Qwen2VLImageProcessor", "Qwen2VLImageProcessorPil"),
                         min_pixels=3136, max_pixels=12845056)  # fmt: skip
        return Qwen2_5_VLProcessor(
            image_processor=images,
            tokenizer=tokenizer,
            video_processor=Qwen2VLVideoProcessor(),
            chat_template=QWEN_TEMPLATE,
        )
    if kind == "gemma3":
        from transformers import Gemma3Processor

        from ftui.core.paths import assets_dir

        template = (assets_dir() / "templates" / "gemma-3.jinja").read_text()
        ids = arch["ids"]
        special = {"<pad>": ids["pad"], "<eos>": ids["eos"], "<bos>": ids["bos"], "<start_of_turn>": ids["start_of_turn"],
                   "<end_of_turn>": ids["end_of_turn"], "<start_of_image>": ids["boi"], "<end_of_image>": ids["eoi"],
                   "<image_soft_token>": ids["image"]}  # fmt: skip
        extra = {
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
        }
        tokenizer = word_tokenizer(vocab, special, "<bos>", "<end_of_turn>", "<pad>", extra)
        tokenizer.chat_template = template
        size = arch["config"]["vision_config"]["image_size"]
        images = _images(
            "gemma3",
            ("Gemma3ImageProcessor", "Gemma3ImageProcessorPil"),
            size={"height": size, "width": size},
        )
        return Gemma3Processor(image_processor=images, tokenizer=tokenizer, chat_template=template,
                               image_seq_length=arch["config"]["mm_tokens_per_image"])  # fmt: skip
    if kind == "mllama":
        from transformers import MllamaProcessor

        ids = arch["ids"]
        special = {"<|begin_of_text|>": ids["bos"], "<|start_header_id|>": ids["start_header"],
                   "<|end_header_id|>": ids["end_header"], "<|eot_id|>": ids["eos"], "<|finetune_right_pad_id|>": ids["pad"],
                   "<|python_tag|>": ids["python"], "<|image|>": ids["image"]}  # fmt: skip
        tokenizer = word_tokenizer(
            vocab, special, "<|begin_of_text|>", "<|eot_id|>", "<|finetune_right_pad_id|>", {}
        )
        tokenizer.chat_template = LLAMA_TEMPLATE
        size = arch["config"]["vision_config"]["image_size"]
        images = _images("mllama", ("MllamaImageProcessor", "MllamaImageProcessorPil"),
                         size={"height": size, "width": size}, max_image_tiles=arch["config"]["vision_config"]["max_num_tiles"])  # fmt: skip
        return MllamaProcessor(image_processor=images, tokenizer=tokenizer, chat_template=LLAMA_TEMPLATE)
    raise ValueError(f"no processor builder for {kind}")


def filled_rows(
    arch_name: str, count: int, seq: int, size: tuple[int, int], images_per_row: int = 1
) -> list[dict]:
    """Rows whose text fills the sequence up to `seq` with the images' tokens counted (the worst case, as the
    text measurement fills rows), each with its own noise images: TRL's messages + images."""
    import random

    from PIL import Image

    from ftui.core.vision import family_for

    arch = architectures()[arch_name]
    family = family_for(arch["model_type"])
    image_tokens = images_per_row * family.image_tokens(*size)
    words = max(8, seq - image_tokens - 48)  # 48: the template's markers and the answer's end
    rng = random.Random(seq * 31 + count)
    rows = []
    for index in range(count):
        text = " ".join(f"w{rng.randrange(300, 5000)}" for _ in range(words - 8))
        answer = " ".join(f"w{rng.randrange(300, 5000)}" for _ in range(8))
        images = [Image.effect_noise(size, 50 + index).convert("RGB") for _ in range(images_per_row)]
        content = [{"type": "image"}] * images_per_row + [{"type": "text", "text": text}]
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": content},
                    {"role": "assistant", "content": [{"type": "text", "text": answer}]},
                ],
                "images": images,
            }
        )
    return rows
