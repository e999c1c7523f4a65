"""What the catalog holds, as ftui works with it: models, licenses and GPUs, and the words they may use.

The data files' own schema is declared in ftui.core.catalog_files (what a [[model]] table may hold); these
are the records it is read into, with what ftui derives on the way (ModelDims, GiB, "unknown" as None).
They are plain dataclasses so that a cached catalog loads without the schema's library (msgspec).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from ftui.core.dims import ModelDims
from ftui.core.errors import UserError

Modality = Literal["text", "code", "vision"]
Kind = Literal["base", "instruct"]
CommercialUse = Literal["yes", "yes_with_conditions", "no", "unknown"]
LicenseClass = Literal["permissive", "open_with_conditions", "non_commercial"]
# ftui's use cases (ftui.core.plan.USE_CASES); repeated here so that loading the catalog stays cheap.
UseCase = Literal["general", "code", "vision", "reasoning"]

MODALITIES: tuple[str, ...] = get_args(Modality)
KINDS: tuple[str, ...] = get_args(Kind)
COMMERCIAL_USE: tuple[str, ...] = get_args(CommercialUse)
LICENSE_CLASSES: tuple[str, ...] = get_args(LicenseClass)
MODEL_USE_CASES: tuple[str, ...] = get_args(UseCase)
# Every name unsloth.chat_templates.get_chat_template accepts that the catalog uses (checked against the
# installed unsloth by tests/core/test_catalog.py). A model without one keeps its tokenizer's own template.
CHAT_TEMPLATES: tuple[str, ...] = (
    "chatml", "alpaca", "vicuna", "zephyr", "mistral", "llama", "llama-3", "llama-3.1", "llama-3.2", "llama-3.3",
    "qwen-2.5", "qwen2.5-coder", "qwen3", "qwen3-instruct", "qwen3-thinking", "phi-3", "phi-3.5", "phi-4",
    "gemma", "gemma2", "gemma-3", "gpt-oss",
)  # fmt: skip


class CatalogError(UserError):
    """A data file in assets/ is broken: names the file and the entry, and says to fix or remove it."""


def shown(path: Path) -> str:
    """The path as the user knows it: relative to the repo or package that holds assets/."""
    parts = path.parts
    if "assets" in parts:
        return "/".join(parts[len(parts) - parts[::-1].index("assets") - 1 :])
    return str(path)


@dataclass(frozen=True)
class UnslothRepos:
    """Unsloth's copies of a model on the Hub (None where Unsloth has none)."""

    bf16: str | None = None  # 16-bit weights
    bnb_4bit: str | None = None  # plain bitsandbytes NF4
    unsloth_bnb_4bit: str | None = None  # Unsloth's dynamic 4-bit: some layers kept in 16 bit
    other: tuple[str, ...] = ()
    source: str = ""

    def names(self) -> list[str]:
        return [name for name in (self.bf16, self.bnb_4bit, self.unsloth_bnb_4bit) if name]


@dataclass(frozen=True)
class Model:
    hf_id: str
    name: str
    family: str
    kind: str  # base | instruct
    modality: str  # text | code | vision
    use_cases: tuple[str, ...]  # of general, code, vision, reasoning
    params_b: float
    dims: ModelDims
    license: str  # a license id in assets/licenses.toml
    commercial_use: str  # yes | yes_with_conditions | no | unknown
    license_conditions: str
    gated: bool | None  # None: not verified
    unsloth: UnslothRepos
    chat_template: str | None  # an unsloth get_chat_template name; None: keep the tokenizer's own
    license_sources: tuple[str, ...]
    params_active_b: float | None = None  # MoE: parameters a token goes through
    context: int | None = None  # max_position_embeddings; None: not verified (dims.context then says 4096)
    released: str = ""  # year-month of the release, used to rank newer models first
    variant: str = ""  # the model card's own words when they say more than base/instruct
    tags: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # former repo names, legacy Unsloth names
    notes: str = ""
    gated_evidence: str = ""
    params_source: str = ""
    license_name: str = ""
    source_file: str = ""

    @property
    def license_source(self) -> str:
        """The first (primary) source of the license claim."""
        return self.license_sources[0] if self.license_sources else ""

    @property
    def org(self) -> str:
        return self.hf_id.split("/", 1)[0]

    @property
    def is_moe(self) -> bool:
        return self.dims.is_moe

    def repo_for(self, method: str) -> str:
        """The repo to load for a method: QLoRA takes Unsloth's dynamic 4-bit (more accurate), else the plain
        4-bit, else 16-bit weights quantized on load; LoRA and full fine-tuning take 16-bit weights."""
        if method == "qlora":
            return self.unsloth.unsloth_bnb_4bit or self.unsloth.bnb_4bit or self.unsloth.bf16 or self.hf_id
        if method in ("lora", "full"):
            return self.unsloth.bf16 or self.hf_id
        raise ValueError(f"unknown method {method!r}")


@dataclass(frozen=True)
class Clause:
    id: str
    text: str  # the clause in plain words
    section: str = ""  # where it is in the license text


@dataclass(frozen=True)
class License:
    id: str
    name: str
    license_class: str  # permissive | open_with_conditions | non_commercial
    commercial_use: str  # yes | yes_with_conditions | no
    summary: str
    clauses: tuple[Clause, ...] = ()
    url: str = ""
    sources: tuple[str, ...] = ()

    @property
    def is_permissive(self) -> bool:
        return self.license_class == "permissive"


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_gib: float  # what nvidia-smi reports as total memory (MiB / 1024), not the marketed GB
    bf16: bool
    memory_gb: int  # the marketed size, e.g. 80 for "H100 80GB"
    architecture: str = ""
    keys: tuple[str, ...] = ()  # tokens that name it: "h100", "rtx4090", "4090"
    requires: tuple[str, ...] = ()  # tokens that must also appear, e.g. "nvl" for the H100 NVL
    default: bool = False  # the one a bare key picks when several cards share it
    notes: str = ""
    source: str = ""
