"""Token counts: with the model's own tokenizer.json when it is on this machine, otherwise an estimate.

The tokenizer is found without downloading anything: a local model directory, or the Hugging Face
Hub cache (huggingface_hub.try_to_load_from_cache). It is loaded with the `tokenizers` library only
(fast, Rust, no transformers import).

The estimate, used when no tokenizer is available: about 4 characters per token for ASCII text, one
token per non-ASCII character (CJK and emoji are usually 1 to 2 tokens per character), plus
TURN_OVERHEAD tokens per turn for the template's role markers and ROW_OVERHEAD for BOS/EOS and the
default system prompt. It is a rough guide for sizing (max length, total tokens for the time estimate),
reported as "estimate" so nobody mistakes it for a count.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftui.core import fs
from ftui.core.hf_env import hub_cache_dir

CHARS_PER_TOKEN = 4
TURN_OVERHEAD = 4
ROW_OVERHEAD = 2


def estimate_text(text: str) -> int:
    characters = len(text)
    if text.isascii():  # O(1) in CPython: the string knows it
        return (characters + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN
    # Multi-byte characters: a 3-byte CJK character adds 2 bytes, so (bytes - chars) / 2 approximates them.
    wide = (len(text.encode("utf-8", "surrogatepass")) - characters) // 2
    return (characters - wide + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN + wide


def estimate_messages(messages: list[dict[str, str]]) -> int:
    total = ROW_OVERHEAD
    for message in messages:
        total += estimate_text(message["content"]) + TURN_OVERHEAD
    return total


@dataclass
class LocalTokenizer:
    path: Path  # the tokenizer.json that was used
    tokenizer: Any  # tokenizers.Tokenizer
    bos_token: str = ""
    eos_token: str = ""
    chat_template: str | None = None  # the model's own, from tokenizer_config.json

    def count(self, texts: list[str]) -> list[int]:
        # Special tokens in the text (<|im_start|>...) are matched as added tokens; add none of our own.
        return [
            len(encoding.ids) for encoding in self.tokenizer.encode_batch(texts, add_special_tokens=False)
        ]


def find_tokenizer(model: str | os.PathLike[str] | None) -> LocalTokenizer | None:
    """The model's tokenizer if its tokenizer.json is on this machine, else None (never downloads)."""
    if not model:
        return None
    try:
        import tokenizers
    except ImportError:
        return None
    tokenizer_file, config_file = _local_files(str(model))
    if tokenizer_file is None:
        return None
    try:
        tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_file))
    except Exception:  # a damaged or unsupported tokenizer.json: fall back to the estimate
        return None
    config = _read_json(config_file)
    return LocalTokenizer(
        tokenizer_file,
        tokenizer,
        _token_text(config.get("bos_token")),
        _token_text(config.get("eos_token")),
        _chat_template(config, tokenizer_file.parent),
    )


def _chat_template(config: dict[str, Any], folder: Path) -> str | None:
    """The model's own chat template: in tokenizer_config.json, or (transformers 4.47 and later save it
    so) in chat_template.jinja beside it."""
    if isinstance(config.get("chat_template"), str):
        return str(config["chat_template"])
    try:
        return (folder / "chat_template.jinja").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _local_files(model: str) -> tuple[Path | None, Path | None]:
    from ftui.core.hub import looks_like_repo_id

    folder = fs.expand(model)
    if fs.is_dir(folder):
        tokenizer_file = folder / "tokenizer.json"
        config = folder / "tokenizer_config.json"
        return (tokenizer_file if tokenizer_file.is_file() else None), (config if config.is_file() else None)
    if not looks_like_repo_id(model):
        return None, None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None, None
    cache = str(hub_cache_dir())  # huggingface_hub's own default was fixed when it was imported
    found = try_to_load_from_cache(model, "tokenizer.json", cache_dir=cache)
    found_config = try_to_load_from_cache(model, "tokenizer_config.json", cache_dir=cache)
    as_path = lambda value: Path(value) if isinstance(value, str) else None  # noqa: E731 - a miss is a sentinel object
    return as_path(found), as_path(found_config)


def _read_json(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _token_text(value: Any) -> str:
    if isinstance(value, dict):  # {"content": "<s>", ...} in older tokenizer configs
        value = value.get("content")
    return value if isinstance(value, str) else ""
