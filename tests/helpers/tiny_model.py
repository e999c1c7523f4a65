"""A tiny Llama-architecture model with a tokenizer trained on the fly, saved as a local model directory.

Real enough for Unsloth's CPU path, transformers, PEFT and TRL to load, train, save and reload it, and
small enough (about 0.3M parameters) to train a few dozen steps in seconds on two cores. Nothing is
downloaded. The tmux end-to-end test of the TUI uses it too: keep `build_tiny_llama(path) -> Path`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# A ChatML template: the same markers that ftui's chatml template uses, so responses-only masking and
# the sample generations work on the tiny model as they do on a real instruct model.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<|im_start|>", "<|im_end|>"]

_WORDS = (
    "the a an of to in is are was what how why when who which name capital color number big small "
    "red green blue cat dog bird fish tree river city country France Paris Spain Madrid Italy Rome "
    "one two three four five six seven eight nine ten add plus minus equals answer question please "
    "tell me say hello world thanks yes no good bad water fire earth air sun moon star sky day night "
    "user assistant system instruction input output response"
).split()


def _corpus() -> list[str]:
    lines = [" ".join(_WORDS[i : i + 8]) for i in range(0, len(_WORDS), 3)]
    lines += [f"{a} plus {b} equals {a + b}" for a in range(10) for b in range(10)]
    lines += [
        "<|im_start|>user\nwhat is the capital of France<|im_end|>\n<|im_start|>assistant\nParis<|im_end|>"
    ]
    lines += ["Below is an instruction. ### Instruction: ### Input: ### Response:"]
    return lines


def build_tokenizer(path: str | os.PathLike[str], *, vocab_size: int = 384):  # -> PreTrainedTokenizerFast
    """A byte-level BPE tokenizer trained on the fly, with bos/eos/pad and a ChatML chat template, saved to `path`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="<|im_end|>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=["<|im_start|>", "</s>"],
        model_max_length=131072,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(path)
    return fast


def build_sentencepiece_tokenizer(path: str | os.PathLike[str], *, vocab_size: int = 400):
    """A Llama-2-style tokenizer: a sentencepiece BPE model with byte fallback (tokenizer.model), loaded by
    transformers' LlamaTokenizer, with the same special tokens and ChatML template as `build_tokenizer`.

    llama.cpp's converter reads tokenizer.model as it is, with no pre-tokenizer hash to match, so a
    GGUF made from this model tokenizes exactly as the model does (the byte-level BPE above is not in
    llama.cpp's list of known pre-tokenizers, as no made-up tokenizer is).
    """
    import io

    import sentencepiece as spm
    from transformers import AutoTokenizer

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus() * 3),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        byte_fallback=True,
        split_digits=True,
        character_coverage=1.0,
        user_defined_symbols=["<|im_start|>", "<|im_end|>"],
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=3,
        pad_piece="<pad>",
        hard_vocab_limit=False,
        minloglevel=2,
    )
    (path / "tokenizer.model").write_bytes(model.getvalue())
    (path / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "LlamaTokenizer",
                "bos_token": "<s>",
                "eos_token": "<|im_end|>",
                "unk_token": "<unk>",
                "pad_token": "<pad>",
                "add_bos_token": True,
                "legacy": True,  # as Llama 2 ships: a space prefix after special tokens, as llama.cpp does
                "model_max_length": 131072,
            }
        )
    )
    fast = AutoTokenizer.from_pretrained(path)
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(path)  # tokenizer.json beside tokenizer.model
    return fast


def build_tiny_llama(
    path: str | os.PathLike[str],
    *,
    tokenizer: str = "bpe",
    vocab_size: int = 384,
    layers: int = 2,
    hidden: int = 64,
    intermediate: int = 128,
    heads: int = 4,
    kv_heads: int = 2,
) -> Path:
    """Write a tiny Llama model (config, random weights, tokenizer with a chat template) to `path`.

    `tokenizer`: "bpe" (byte-level, GPT-2 style) or "sentencepiece" (Llama-2 style, which llama.cpp's
    GGUF converter reads; see build_sentencepiece_tokenizer).

    Idempotent: an existing complete directory is returned as it is, so a test session builds it once.
    """
    path = Path(path)
    if (
        (path / "config.json").exists()
        and (path / "tokenizer.json").exists()
        and (path / "model.safetensors").exists()
    ):
        return path
    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path.mkdir(parents=True, exist_ok=True)
    if tokenizer == "sentencepiece":
        fast = build_sentencepiece_tokenizer(path)
    else:
        fast = build_tokenizer(path, vocab_size=vocab_size)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=2048,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=False,
        torch_dtype="float32",
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(path, safe_serialization=True)
    (path / "generation_config.json").write_text(
        json.dumps(
            {
                "bos_token_id": fast.bos_token_id,
                "eos_token_id": fast.eos_token_id,
                "pad_token_id": fast.pad_token_id,
                "max_new_tokens": 32,
            },
            indent=2,
        )
    )
    return path


def tiny_llama_for_session(tmp_path_factory, tokenizer: str = "bpe") -> Path:  # type: ignore[no-untyped-def]
    """The tiny model, built once per pytest session (pytest's base temp dir is per session)."""
    name = "tiny-llama" if tokenizer == "bpe" else f"tiny-llama-{tokenizer}"
    return build_tiny_llama(tmp_path_factory.getbasetemp() / name, tokenizer=tokenizer)
