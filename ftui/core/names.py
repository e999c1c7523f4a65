"""The model-name decoder: what a Hub repo name or a local path says about the model behind it.

"unsloth/llama-3.1-8b-unsloth-bnb-4bit" -> Meta's Llama 3.1, 8B, base, Unsloth's dynamic 4-bit. A name
that matches the catalog takes the catalog's facts (exact); otherwise the name is read by pattern. What
neither can tell is reported as unknown, with a sentence saying so, never filled in silently.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ftui.core import fs
from ftui.core.catalog import Catalog, Model, load_catalog

UNKNOWN = "unknown"

# (quantization id, pattern on the lower-case name, words)
QUANTIZATIONS: tuple[tuple[str, str, str], ...] = (
    (
        "unsloth_bnb_4bit",
        r"unsloth[-_]bnb[-_]4bit",
        "Unsloth's dynamic 4-bit: bitsandbytes 4-bit with the most error-sensitive layers kept in 16 bit; "
        "about a third of the 16-bit download, a little larger than plain 4-bit and more accurate. Loads "
        "directly for QLoRA.",
    ),
    (
        "bnb_4bit",
        r"bnb[-_]4bit|nf4",
        "bitsandbytes 4-bit (NF4): about a third of the 16-bit download and a quarter of the weight memory; "
        "made for QLoRA training, slightly less accurate than Unsloth's dynamic 4-bit.",
    ),
    (
        "gguf",
        r"gguf",
        "GGUF: a llama.cpp / Ollama file for running the model, not for training; fine-tune the 16-bit or "
        "4-bit repo and export to GGUF afterwards.",
    ),
    ("awq", r"(^|[-_])awq($|[-_])", "AWQ 4-bit: for inference servers such as vLLM, not for Unsloth training."),
    ("gptq", r"gptq", "GPTQ: quantized for inference, not for Unsloth training."),
    ("fp8", r"(^|[-_])fp8($|[-_])", "FP8: 8-bit floating point for fast inference on Hopper and newer GPUs; train the 16-bit repo."),
    ("mlx", r"(^|[-_])mlx($|[-_])", "MLX: weights for Apple silicon, not for CUDA training."),
    ("exl2", r"exl2", "EXL2: ExLlamaV2 inference format, not for training."),
    ("bnb_8bit", r"8bit|int8", "8-bit weights: less memory than 16-bit for inference; QLoRA uses 4-bit instead."),
)  # fmt: skip
SIXTEEN_BIT_WORDS = (
    "16-bit weights (no quantization marker in the name): the original precision, needed for LoRA and full "
    "fine-tuning; QLoRA quantizes them to 4-bit while loading, at the cost of a bigger download."
)

# Families by pattern: (regex on the lower-case name with separators normalised to '-', family, vendor).
# Order matters: specific names before general ones.
FAMILIES: tuple[tuple[str, str, str], ...] = (
    (r"deepseek-r1-distill-(qwen|llama)", "DeepSeek-R1-Distill", "DeepSeek"),
    (r"deepseek-coder-v2", "DeepSeek-Coder-V2", "DeepSeek"),
    (r"deepseek-coder", "DeepSeek-Coder", "DeepSeek"),
    (r"deepseek-(v\d|r\d)", "DeepSeek", "DeepSeek"),
    (r"tinyllama", "TinyLlama", "TinyLlama project"),
    (r"codellama|code-llama", "Code Llama", "Meta"),
    (r"llama-?(\d+(?:\.\d+)?)?-?.*vision", "Llama Vision", "Meta"),
    (r"llama", "Llama", "Meta"),
    (r"qwen-?(\d+(?:\.\d+)?)?-?coder", "Qwen-Coder", "Alibaba (Qwen)"),
    (r"qwen-?(\d+(?:\.\d+)?)?-?vl", "Qwen-VL", "Alibaba (Qwen)"),
    (r"qwen-?(\d+(?:\.\d+)?)?-?math", "Qwen-Math", "Alibaba (Qwen)"),
    (r"qwq", "QwQ", "Alibaba (Qwen)"),
    (r"qwen", "Qwen", "Alibaba (Qwen)"),
    (r"codestral", "Codestral", "Mistral AI"),
    (r"pixtral", "Pixtral", "Mistral AI"),
    (r"mixtral", "Mixtral", "Mistral AI"),
    (r"ministral", "Ministral", "Mistral AI"),
    (r"devstral", "Devstral", "Mistral AI"),
    (r"magistral", "Magistral", "Mistral AI"),
    (r"mistral-nemo", "Mistral Nemo", "Mistral AI"),
    (r"mistral-small", "Mistral Small", "Mistral AI"),
    (r"mistral-large", "Mistral Large", "Mistral AI"),
    (r"mistral", "Mistral", "Mistral AI"),
    (r"codegemma", "CodeGemma", "Google"),
    (r"paligemma", "PaliGemma", "Google"),
    (r"gemma", "Gemma", "Google"),
    (r"phi", "Phi", "Microsoft"),
    (r"gpt-oss", "gpt-oss", "OpenAI"),
    (r"smollm", "SmolLM", "Hugging Face"),
    (r"granite", "Granite", "IBM"),
    (r"olmo", "OLMo", "Allen AI"),
    (r"falcon", "Falcon", "TII"),
    (r"yi-", "Yi", "01.AI"),
    (r"internlm", "InternLM", "Shanghai AI Lab"),
    (r"glm", "GLM", "Zhipu AI"),
    (r"starcoder", "StarCoder", "BigCode"),
)

ORG_VENDORS = {
    "meta-llama": "Meta",
    "qwen": "Alibaba (Qwen)",
    "mistralai": "Mistral AI",
    "google": "Google",
    "microsoft": "Microsoft",
    "deepseek-ai": "DeepSeek",
    "openai": "OpenAI",
    "huggingfacetb": "Hugging Face",
    "tinyllama": "TinyLlama project",
}
INSTRUCT_MARKERS = ("instruct", "it", "chat", "inst", "thinking", "sft", "dpo", "rlhf", "distill")
BASE_MARKERS = ("base", "pt", "pretrained")
KIND_WORDS = {
    "base": "A base (pretrained) model: it continues text rather than answering; it needs more data (1000+ rows) "
    "but takes your format without another chat style getting in the way.",
    "instruct": "An instruct (chat-tuned) model: it already follows instructions, so a few hundred rows are "
    "enough to steer it; keep its own chat template.",
}


@dataclass(frozen=True)
class DecodedName:
    name: str
    org: str  # who published the repo ("local" for a path, "unknown" when the name has no org)
    vendor: str  # who made the model ("Meta" for unsloth/llama-...)
    family: str
    version: str
    size_b: float | None
    kind: str  # base | instruct | unknown
    quantization: str  # unsloth_bnb_4bit | bnb_4bit | gguf | 16bit | awq | gptq | fp8 | mlx | exl2 | bnb_8bit
    explanation: str
    active_b: float | None = None  # MoE: parameters a token uses ("A3B")
    modality: str = UNKNOWN  # text | code | vision | unknown
    trainable: bool | None = None  # can Unsloth fine-tune these weights as they are?
    catalog_id: str | None = None  # the catalog model the name matched
    local_path: str | None = None
    unknown: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["unknown"] = list(self.unknown)
        return data


def decode(name: str, catalog: Catalog | None = None) -> DecodedName:
    """Decode a repo name, a Hub URL or a local path. Case-insensitive; never raises for an odd name."""
    raw = name.strip()
    catalog = catalog or load_catalog()
    local = _local_path(raw)
    config: dict[str, Any] = {}
    if local is not None:
        org, repo = "local", Path(local).name or local
        config = _read_config(Path(local))
    else:
        cleaned = re.sub(r"^(https?://)?(huggingface\.co|hf\.co)/", "", raw, flags=re.I).strip("/")
        org, _, repo = cleaned.rpartition("/") if "/" in cleaned else ("", "", cleaned)
        org = org.split("/")[-1] if org else UNKNOWN
    lower = repo.lower()
    flat = re.sub(r"[\s_]+", "-", lower)

    quant_id, quant_words = _quantization(flat, config, org)
    model = _catalog_match(catalog, raw, org, flat)
    if local is not None and model is not None and not _same_architecture(model, config):
        model = None  # a folder's name is only a hint: "tiny-llama" is not TinyLlama unless its dims say so
    sentences: list[str] = []
    unknown: list[str] = []

    if model is not None:
        family, version = model.family, _family_version(model.family, flat)
        vendor = ORG_VENDORS.get(model.org.lower(), model.org)
        size_b: float | None = model.params_b
        active_b = model.params_active_b
        kind, modality = model.kind, model.modality
        sentences.append(
            f"Matches the catalog's {model.hf_id} ({model.name}, {model.params_b:g}B parameters)."
        )
    else:
        family, vendor, version = _family(flat)
        if org != UNKNOWN and org != "local" and org.lower() in ORG_VENDORS and vendor == UNKNOWN:
            vendor = ORG_VENDORS[org.lower()]
        size_b, active_b = _size(flat)
        kind = _kind(flat, config)
        modality = _modality(flat, family)
        if local is not None and config:
            arch = config.get("model_type") or ",".join(config.get("architectures", [])) or UNKNOWN
            sentences.append(
                f"A local folder with a config.json (model type {arch}); ftui reads its dims from there."
            )
        elif local is not None:
            sentences.append("A local path without a readable config.json; only its name could be decoded.")
        else:
            sentences.append("Not in ftui's catalog, so this is read from the name alone.")

    if org == "unsloth":
        maker = f"{vendor}'s" if vendor != UNKNOWN else "the original"
        sentences.append(
            f"Published by Unsloth: their copy of {maker} model, with fixes and ready-made quantizations."
        )
    elif org not in (UNKNOWN, "local"):
        sentences.append(f"Published by {org}.")
    else:
        if org == UNKNOWN:
            unknown.append("org")
            sentences.append("No organisation in the name, so who published it is unknown.")

    if family == UNKNOWN:
        unknown.append("family")
        sentences.append("The model family is not one ftui recognises.")
    else:
        shown = family if version == UNKNOWN or version in family else f"{family} {version}"
        sentences.append(f"Family {shown}" + (f", made by {vendor}." if vendor != UNKNOWN else "."))
    if version == UNKNOWN:
        unknown.append("version")
    if size_b is None:
        unknown.append("size_b")
        sentences.append("The name gives no parameter count.")
    elif active_b:
        sentences.append(
            f"{size_b:g}B parameters in all, of which about {active_b:g}B are active per token (mixture of experts); all of them must fit in memory."
        )
    elif model is None:
        sentences.append(f"About {size_b:g}B parameters, going by the name.")
    if kind == UNKNOWN:
        unknown.append("kind")
        sentences.append(
            "No instruct/chat/it or base marker in the name: whether it is a base or an instruct model is unknown; check the model card."
        )
    else:
        sentences.append(KIND_WORDS[kind])
    if modality == UNKNOWN:
        unknown.append("modality")
    sentences.append(quant_words)
    if quant_id == UNKNOWN:
        unknown.append("quantization")
        trainable = None
    else:
        trainable = quant_id in ("unsloth_bnb_4bit", "bnb_4bit", "16bit")

    return DecodedName(
        name=raw,
        org=org,
        vendor=vendor,
        family=family,
        version=version,
        size_b=size_b,
        active_b=active_b,
        kind=kind,
        quantization=quant_id,
        modality=modality,
        trainable=trainable,
        catalog_id=model.hf_id if model else None,
        local_path=local,
        unknown=tuple(unknown),
        explanation=" ".join(sentences),
    )


# ---------------------------------------------------------------- the pieces


def _same_architecture(model: Any, config: dict[str, Any]) -> bool:
    """Whether a local folder's config.json has the catalog model's dims (layers, width, vocabulary)."""
    if not config:
        return False
    try:
        from ftui.core.dims import dims_from_hf_config

        found = dims_from_hf_config(config)
    except (KeyError, TypeError, ValueError):
        return False
    dims = model.dims
    return (found.layers, found.hidden, found.vocab) == (dims.layers, dims.hidden, dims.vocab)


def _local_path(raw: str) -> str | None:
    """A path (absolute, relative with ./ or ~, or an existing folder) rather than a repo name."""
    if re.match(r"^(https?://|hf\.co/|huggingface\.co/)", raw, flags=re.I):
        return None
    if raw.startswith(("/", "./", "../", "~", ".\\")) or raw.count("/") > 1:
        return str(fs.expand(raw))

    if fs.is_dir(raw):
        return str(fs.expand(raw))
    return None


def _read_config(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _quantization(flat: str, config: dict[str, Any], org: str = "") -> tuple[str, str]:
    if "mlx" in org.lower():
        return "mlx", dict((q, w) for q, _, w in QUANTIZATIONS)["mlx"]
    for quant_id, pattern, words in QUANTIZATIONS:
        if re.search(pattern, flat):
            return quant_id, words
    if re.search(r"(^|[-_])(\d)-?bit($|[-_])", flat):
        return UNKNOWN, (
            "Quantized (the name says how many bits) but not with which method (bitsandbytes, MLX, HQQ...): "
            "check the model card before training on it."
        )
    qc = config.get("quantization_config") or {}
    if qc.get("load_in_4bit") or qc.get("quant_method") == "bitsandbytes" and qc.get("bnb_4bit_quant_type"):
        return "bnb_4bit", QUANTIZATIONS[1][2] + " (from the folder's config.json)"
    return "16bit", SIXTEEN_BIT_WORDS


_STRIP = re.compile(
    r"-(unsloth-bnb-4bit|bnb-4bit|gguf|awq|gptq(-int\d)?|fp8(-dynamic|-block)?|mlx(-\dbit)?|\dbit|exl2)$"
)


def _canonical(text: str) -> str:
    """Lower case without quantization suffixes, a 'meta-' prefix or separators: 'Meta-Llama-3.1-8B' -> 'llama318b'."""
    text = re.sub(r"[\s_]+", "-", text.lower())
    previous = None
    while previous != text:
        previous, text = text, _STRIP.sub("", text)
    text = re.sub(r"^meta-", "", text)
    return re.sub(r"[^a-z0-9]", "", text)


def _catalog_match(catalog: Catalog, raw: str, org: str, flat: str) -> Model | None:
    exact = catalog.find(raw)
    if exact is not None:
        return exact
    wanted = _canonical(flat)
    matches: dict[str, Model] = {}
    for model in catalog.models:
        for name in (model.hf_id, *model.unsloth.names(), *model.aliases):
            if _canonical(name.split("/")[-1]) == wanted:
                matches[model.hf_id] = model
    return next(iter(matches.values())) if len(matches) == 1 else None


def _family_version(family: str, flat: str) -> str:
    """A catalog family's version: 'Llama 3.1' -> 3.1, 'Qwen2.5-Coder' -> 2.5, 'DeepSeek-R1-Distill' -> R1."""
    match = re.search(r"(?<![A-Za-z])R\d\b|(\d+(?:\.\d+)?)", family)
    if match:
        return match.group(1) or match.group(0)
    return _version(flat, family)


def _family(flat: str) -> tuple[str, str, str]:
    for pattern, family, vendor in FAMILIES:
        match = re.search(pattern, flat)
        if match:
            return family, vendor, _version(flat, family)
    return UNKNOWN, UNKNOWN, UNKNOWN


def _version(flat: str, family: str) -> str:
    """The version the name states: 'llama-3.1' -> 3.1, 'qwen2.5' -> 2.5, 'v0.3' -> 0.3, 'gemma-3' -> 3."""
    stem = re.escape(family.split()[0].split("-")[0].lower())
    match = re.search(rf"{stem}-?(\d+(?:\.\d+)?)(?=[-_a-z]|$)", flat)
    if match and not re.match(rf"{stem}-?\d+(?:\.\d+)?([bm](?![a-z])|x\d)", flat[match.start() :]):
        return match.group(1)
    match = re.search(r"(?:^|-)([vr])(\d+(?:\.\d+)?)(?=-|$)", flat)
    if match:  # v0.3 -> 0.3; DeepSeek's r1 -> R1
        return match.group(2) if match.group(1) == "v" else f"R{match.group(2)}"
    match = re.search(r"-(\d{4})(?:-|$)", flat)  # Mistral's release tags: 2407, 2501
    if match:
        return match.group(1)
    return UNKNOWN


# A size the name gives is believed only inside what exists: above zero, at most ten trillion parameters.
_PLAUSIBLE_B = (0.0, 10_000.0)


def _plausible(value: float) -> bool:
    return _PLAUSIBLE_B[0] < value <= _PLAUSIBLE_B[1]


def _size(flat: str) -> tuple[float | None, float | None]:
    total, active = _size_from_name(flat)
    if total is not None and not _plausible(total):
        return None, None
    if active is not None and (not _plausible(active) or total is None or active > total):
        return total, None
    return total, active


def _size_from_name(flat: str) -> tuple[float | None, float | None]:
    moe = re.search(r"(\d+(?:\.\d+)?)b-a(\d+(?:\.\d+)?)b(?![a-z])", flat)
    if moe:
        return float(moe.group(1)), float(moe.group(2))
    experts = re.search(r"(\d+)x(\d+(?:\.\d+)?)b(?![a-z])", flat)
    if experts:
        return (
            None,
            None,
        )  # "8x7b": the total is not experts x size (attention is shared); unknown from the name
    match = re.search(r"(?:^|[-_.])(\d+(?:\.\d+)?)([bm])(?![a-z0-9])", flat)
    if match:
        value = float(match.group(1))
        return (value / 1000 if match.group(2) == "m" else value), None
    return None, None


def _kind(flat: str, config: dict[str, Any]) -> str:
    tokens = set(re.split(r"[-_.]", flat))
    if tokens & set(INSTRUCT_MARKERS) or re.search(r"instruct|chat", flat):
        return "instruct"
    if tokens & set(BASE_MARKERS):
        return "base"
    return UNKNOWN


def _modality(flat: str, family: str) -> str:
    if re.search(r"vision|(^|-)vl(-|$)|pixtral|paligemma|llava", flat) or family in (
        "Qwen-VL",
        "Llama Vision",
        "Pixtral",
    ):
        return "vision"
    if re.search(r"coder|code|starcoder|codestral", flat):
        return "code"
    if family != UNKNOWN:
        return "text"
    return UNKNOWN
