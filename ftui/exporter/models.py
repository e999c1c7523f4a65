"""Loading a run's models with transformers and PEFT (not Unsloth: an export must load the way
transformers, vLLM and llama.cpp users will load it): the base, the adapter on it, the merged model."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ftui.core.exports import FinishedRun

SIXTEEN_BIT = ("bfloat16", "float16")


def prepare_torch() -> Any:
    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()
    import torch

    return torch


def device() -> str:
    torch = prepare_torch()
    return "cuda" if torch.cuda.is_available() else "cpu"


def target_dtype(folder: Path) -> str:
    """The 16-bit dtype to write: the model's own when it is 16-bit, else bfloat16."""
    import json

    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "bfloat16"
    dtype = str(config.get("dtype") or config.get("torch_dtype") or "")
    return dtype if dtype in SIXTEEN_BIT else "bfloat16"


def load_tokenizer(folder: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


def load_causal_lm(folder: Path | str, dtype: str, where: str = "cpu") -> Any:
    torch = prepare_torch()
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        str(folder), dtype=getattr(torch, dtype), low_cpu_mem_usage=True
    )
    return model.to(where).eval()  # type: ignore[arg-type]  # transformers types .to() for a dtype


def merge_weights(run: FinishedRun, base_dir: Path, out: Path, log: Any) -> dict[str, Any]:
    """Fold the adapter into the base's 16-bit weights and write them to `out` as safetensors, with the
    run's tokenizer (chat template included) and a generation config that stops at the run's EOS."""
    torch = prepare_torch()
    import psutil

    dtype = target_dtype(base_dir)
    tokenizer = load_tokenizer(run.weights_dir)
    if run.full:
        model = load_causal_lm(run.weights_dir, dtype)
    else:
        from peft import PeftModel

        from ftui.core.exports import safetensors_params

        params, _ = safetensors_params(base_dir)
        # Merging in float32 rounds once, to the 16-bit result; float32 needs twice the memory.
        work = "float32" if params * 4 * 1.3 < psutil.virtual_memory().available else dtype
        log(f"loading the base weights from {base_dir} in {work}")
        base = load_causal_lm(base_dir, work)
        if len(tokenizer) > base.get_input_embeddings().weight.shape[0]:
            base.resize_token_embeddings(len(tokenizer))
        log(f"applying the adapter from {run.weights_dir}")
        model = PeftModel.from_pretrained(base, str(run.weights_dir))
        log("merging")
        model = model.merge_and_unload()
        model = model.to(getattr(torch, dtype))
    generation = model.generation_config
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    original = generation.eos_token_id
    for token in original if isinstance(original, list) else [original]:
        if token is not None and token not in eos:
            eos.append(token)
    generation.eos_token_id = eos[0] if len(eos) == 1 else eos
    if tokenizer.pad_token_id is not None:
        generation.pad_token_id = tokenizer.pad_token_id
    log(f"writing {dtype} safetensors to {out}")
    model.save_pretrained(str(out), safe_serialization=True, max_shard_size="5GB")
    tokenizer.save_pretrained(str(out))
    _tokenizer_config_for_llama_cpp(out)
    source = run.weights_dir if run.full else base_dir
    spm = source / "tokenizer.model"
    if spm.is_file() and not (out / "tokenizer.model").exists():
        shutil.copy2(spm, out / "tokenizer.model")  # llama.cpp's converter reads a sentencepiece model as is
    return {"dtype": dtype, "eos_token": tokenizer.eos_token}


def _tokenizer_config_for_llama_cpp(folder: Path) -> None:
    """Write into tokenizer_config.json what transformers 5 keeps in tokenizer.json only, where llama.cpp's
    converter looks for it: the added tokens (without them a sentencepiece model's <|im_start|> is split
    into characters in the GGUF) and, for a sentencepiece tokenizer that puts a space before the first
    word only ("first"), no space prefix (llama.cpp would put one after every special token, so a chat
    prompt, which starts with one, would tokenize differently from training)."""
    import json

    config_path, tokenizer_path = folder / "tokenizer_config.json", folder / "tokenizer.json"
    if not (config_path.is_file() and tokenizer_path.is_file()):
        return
    config = json.loads(config_path.read_text(encoding="utf-8"))
    spec = json.loads(tokenizer_path.read_text(encoding="utf-8"))
    if not config.get("added_tokens_decoder"):
        config["added_tokens_decoder"] = {
            str(token["id"]): {k: v for k, v in token.items() if k != "id"}
            for token in spec.get("added_tokens") or []
        }
    pre = spec.get("pre_tokenizer") or {}
    if (
        pre.get("type") == "Metaspace"
        and pre.get("prepend_scheme") == "first"
        and config.get("add_prefix_space") is None
    ):
        config["add_prefix_space"] = False
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
