"""A tiny Gemma 3 vision-language model, built here with random weights, saved as a local model folder.

Real architecture (Gemma3ForConditionalGeneration: a SigLIP image tower, the multimodal projector that pools
its patches to a fixed number of tokens, a Gemma 3 decoder), tiny dims (about 0.13M parameters), and a real
Gemma3Processor: its Pillow image processor (no torchvision) and a BPE tokenizer trained on the fly, with
Gemma 3's own chat template (the one Unsloth ships, which renders image parts as <start_of_image>).

Why Gemma 3 and not Qwen2.5-VL: transformers 5.17's Qwen2-VL/2.5-VL processors require a video processor,
and every video processor imports torchvision, which does not load beside this machine's CPU torch (see
ftui/trainer/compat.py); Gemma 3's processor is image processor + tokenizer only. Nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

SPECIAL = [
    "<pad>",
    "<eos>",
    "<bos>",
    "<unk>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<start_of_image>",
    "<end_of_image>",
    "<image_soft_token>",
]
CORPUS = (
    "what colour is this red green blue the image shows a square user model "
    "yes no it is a picture of one two three colour"
)


def build_tiny_gemma3(
    path: str | os.PathLike[str], *, image_size: int = 28, tokens_per_image: int = 4
) -> Path:
    """Write the tiny model, its processor and tokenizer to `path` (idempotent: a complete folder is kept)."""
    path = Path(path)
    if (path / "model.safetensors").exists() and (path / "processor_config.json").exists():
        return path
    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3Processor,
        PreTrainedTokenizerFast,
    )
    from transformers.models.gemma3.image_processing_pil_gemma3 import Gemma3ImageProcessorPil

    from ftui.core.paths import assets_dir

    path.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([CORPUS] * 20, trainer=trainer)
    template = (assets_dir() / "templates" / "gemma-3.jinja").read_text(encoding="utf-8")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<bos>",
        eos_token="<end_of_turn>",
        pad_token="<pad>",
        unk_token="<unk>",
        model_max_length=4096,
        extra_special_tokens={
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
        },
    )
    fast.chat_template = template
    images = Gemma3ImageProcessorPil(size={"height": image_size, "width": image_size})
    processor = Gemma3Processor(
        image_processor=images, tokenizer=fast, chat_template=template, image_seq_length=tokens_per_image
    )
    processor.save_pretrained(path)
    ids = {token: fast.convert_tokens_to_ids(token) for token in SPECIAL}
    config = Gemma3Config(
        text_config={
            "vocab_size": len(fast),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "max_position_embeddings": 4096,
            "sliding_window": 512,
            "query_pre_attn_scalar": 16,
            "bos_token_id": ids["<bos>"],
            "eos_token_id": [ids["<end_of_turn>"], ids["<eos>"]],
            "pad_token_id": ids["<pad>"],
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": image_size // 4,
        },
        mm_tokens_per_image=tokens_per_image,
        boi_token_index=ids["<start_of_image>"],
        eoi_token_index=ids["<end_of_image>"],
        image_token_index=ids["<image_soft_token>"],
    )
    torch.manual_seed(0)
    model = Gemma3ForConditionalGeneration(config)
    model.generation_config.max_new_tokens = 16
    model.save_pretrained(path, safe_serialization=True)
    return path


def tiny_gemma3_for_session(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    return build_tiny_gemma3(tmp_path_factory.getbasetemp() / "tiny-gemma3")
