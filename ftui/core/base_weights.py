"""Where the 16-bit weights of a run's base model are: what a merged export folds the adapter into.

A LoRA run trained on 16-bit weights: those. A QLoRA run trained on a 4-bit copy (e.g.
unsloth/Llama-3.1-8B-Instruct-unsloth-bnb-4bit); merging into 4-bit weights would bake their rounding
into the result, so the export merges into the ORIGINAL 16-bit weights instead, found in this order:
the folder the user names (--base-weights), the catalog's 16-bit repo, the model as the run names it,
the 4-bit repo's name without its quantization suffix; each as a local folder or a snapshot in the
Hugging Face cache, else (online only) downloaded by the exporter. File checks only: no torch here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ftui.core import hf_env, hub
from ftui.core.errors import UserError

# Name endings of quantized copies; stripping one names the 16-bit original (Unsloth's naming).
_QUANT_SUFFIX = re.compile(r"-(unsloth-)?(bnb-4bit|bnb-8bit|4bit|awq|gptq|gguf)$", re.IGNORECASE)


@dataclass(frozen=True)
class BaseWeights:
    """Where the 16-bit weights come from: `source` is local (a folder), hf_cache (a snapshot already
    downloaded) or download (the Hub, by the exporter); `path` is None until downloaded."""

    repo: str  # the repo id or folder as named
    source: str  # local | hf_cache | download
    path: Path | None
    why: str  # one sentence: where they came from, for the record and the screen

    def to_dict(self) -> dict[str, str | None]:
        return {
            "repo": self.repo,
            "source": self.source,
            "path": str(self.path) if self.path else None,
            "why": self.why,
        }


def is_quantized(folder: Path) -> bool:
    """True when a model folder holds pre-quantized weights (bitsandbytes, GPTQ, AWQ...)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(config.get("quantization_config"))


def has_weights(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder of `repo_id` in the local HF cache when its weights are there, else None."""
    config = hub.cached_config_path(repo_id)
    if config is None:
        return None
    folder = config.parent
    return folder if has_weights(folder) else None


def candidates(model: str, load_repo: str, method: str, catalog_bf16: str | None) -> list[str]:
    """The names to try for 16-bit weights, best first, without repeats."""
    names: list[str] = []
    if method != "qlora":
        names.append(load_repo)  # LoRA and full fine-tuning trained on 16-bit weights already
    if catalog_bf16:
        names.append(catalog_bf16)
    names.append(model)
    for name in (load_repo, model):
        stripped = _QUANT_SUFFIX.sub("", name.rstrip("/"))
        if stripped != name.rstrip("/"):
            names.append(stripped)
    return list(dict.fromkeys(names))  # each name once, first mention first


def find_base_weights(
    model: str, load_repo: str, method: str, *, catalog_bf16: str | None = None, given: str | None = None
) -> BaseWeights:
    """The 16-bit weights to merge into, or one sentence (UserError) saying why there are none here."""
    if given:
        folder = Path(given).expanduser()
        if not has_weights(folder):
            raise UserError(
                f"--base-weights {given} is not a model folder with config.json and *.safetensors; "
                "point it at the base model's 16-bit weights."
            )
        if is_quantized(folder):
            raise UserError(
                f"--base-weights {given} holds quantized weights; give the original 16-bit model."
            )
        return BaseWeights(
            given, "local", folder.resolve(), f"16-bit weights from {folder} (--base-weights)."
        )
    tried: list[str] = []
    online: list[str] = []
    for name in candidates(model, load_repo, method, catalog_bf16):
        folder = Path(name).expanduser()
        if folder.is_dir():
            if has_weights(folder) and not is_quantized(folder):
                return BaseWeights(
                    name, "local", folder.resolve(), f"16-bit weights from the folder {folder}."
                )
            tried.append(f"{name} (a folder without 16-bit weights)")
            continue
        if not hub.looks_like_repo_id(name):
            continue
        snapshot = cached_snapshot(name)
        if snapshot is not None and not is_quantized(snapshot):
            return BaseWeights(
                name,
                "hf_cache",
                snapshot,
                f"16-bit weights of {name} from the Hugging Face cache ({snapshot}).",
            )
        if snapshot is not None:
            tried.append(f"{name} (quantized)")
            continue
        if _QUANT_SUFFIX.search(name):
            tried.append(f"{name} (a quantized copy)")
            continue
        online.append(name)
        tried.append(f"{name} (not in the cache at {hf_env.hub_cache_dir()})")
    offline = hf_env.offline_variable()
    if online and not offline:
        return BaseWeights(
            online[0], "download", None, f"16-bit weights of {online[0]}, downloaded from the Hub."
        )
    looked = "; ".join(tried) or model
    raise UserError(
        f"The 16-bit weights of the base model are not on this machine (looked for {looked}) and "
        f"{f'{offline} is set' if offline else 'nothing to download was found'}; download them "
        "(`hf download REPO`) or pass --base-weights DIR."
    )
