"""The knowledge base: models, licenses and GPUs, loaded from the data files in assets/ and validated.

Adding a model is a data edit (a [[model]] table in assets/models/<family>.toml), never a code change.
A broken entry is reported with its file and entry as a CatalogError, which the CLI prints as one
sentence; a traceback would tell the user nothing about which line of data to fix.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftui.core import fs
from ftui.core.dims import ModelDims
from ftui.core.errors import UserError
from ftui.core.hf_env import offline_variable
from ftui.core.paths import assets_dir

MODALITIES: tuple[str, ...] = ("text", "code", "vision")
KINDS: tuple[str, ...] = ("base", "instruct")
COMMERCIAL_USE: tuple[str, ...] = ("yes", "yes_with_conditions", "no", "unknown")
LICENSE_CLASSES: tuple[str, ...] = ("permissive", "open_with_conditions", "non_commercial")
# ftui's use cases (ftui.core.plan.USE_CASES); repeated here so that loading the catalog stays cheap.
MODEL_USE_CASES: tuple[str, ...] = ("general", "code", "vision", "reasoning")
# Every name unsloth.chat_templates.get_chat_template accepts that the catalog uses (checked against the
# installed unsloth by tests/core/test_catalog.py). A model without one keeps its tokenizer's own template.
CHAT_TEMPLATES: tuple[str, ...] = (
    "chatml", "alpaca", "vicuna", "zephyr", "mistral", "llama", "llama-3", "llama-3.1", "llama-3.2", "llama-3.3",
    "qwen-2.5", "qwen2.5-coder", "qwen3", "qwen3-instruct", "qwen3-thinking", "phi-3", "phi-3.5", "phi-4",
    "gemma", "gemma2", "gemma-3", "gpt-oss",
)  # fmt: skip


class CatalogError(UserError):
    """A data file in assets/ is broken: names the file and the entry, and says to fix or remove it."""


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


@dataclass
class Catalog:
    models: list[Model]
    licenses: list[License]
    gpus: list[Gpu]
    directory: Path
    _index: dict[str, Model] = field(default_factory=dict, repr=False)
    _licenses: dict[str, License] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        short: dict[str, list[Model]] = {}
        for model in self.models:
            for name in (model.hf_id, *model.unsloth.names(), *model.aliases):
                self._index.setdefault(name.lower(), model)
            short.setdefault(model.hf_id.split("/", 1)[1].lower(), []).append(model)
        for name, models in short.items():  # "Llama-3.1-8B" without the org, when only one repo has it
            if len(models) == 1:
                self._index.setdefault(name, models[0])
        self._licenses = {lic.id.lower(): lic for lic in self.licenses}

    def find(self, name: str) -> Model | None:
        """A model by hf_id, an Unsloth repo name, a former name, or the name without its org; any case."""
        key = name.strip().lower()
        for prefix in ("https://huggingface.co/", "hf://", "hf.co/"):
            if key.startswith(prefix):
                key = key[len(prefix) :]
        return self._index.get(key.strip("/"))

    def license(self, license_id: str) -> License | None:
        return self._licenses.get(license_id.strip().lower())

    def license_of(self, model: Model) -> License:
        lic = self.license(model.license)
        assert lic is not None, "validated on load"
        return lic

    def gpu(self, name: str) -> Gpu | None:
        """A GPU by a forgiving name: "h100", "H100 80GB", "rtx 4090", "NVIDIA A100-SXM4-40GB"."""
        return _match_gpu(self.gpus, name)


# ---------------------------------------------------------------- loading


def load_catalog(directory: str | os.PathLike[str] | None = None) -> Catalog:
    """The catalog in `directory` (default: ftui's assets). Cached per directory; validated on load."""
    return _load_cached(str(Path(directory or assets_dir()).resolve()))


@functools.lru_cache(maxsize=8)
def _load_cached(directory: str) -> Catalog:
    root = Path(directory)
    licenses = load_licenses(root)
    gpus = load_gpus(root)
    models = load_models(root, {lic.id for lic in licenses})
    return Catalog(models=models, licenses=licenses, gpus=gpus, directory=root)


def _read_toml(path: Path) -> dict[str, Any]:
    """A data file, parsed. tomllib is pure Python and parsing the catalog costs ~50 ms of every CLI call,
    so the parsed tables are kept as JSON in the user's cache, keyed by the file's size and mtime; the
    validation below runs on every load either way."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise CatalogError(f"{_shown(path)} is missing; reinstall ftui or restore the file.") from None
    cache = _parse_cache_path(path)
    stamp = [stat.st_mtime_ns, stat.st_size]
    if cache is not None:
        try:
            cached = json.loads(cache.read_text(encoding="utf-8"))
            if cached.get("stamp") == stamp:
                return cached["data"]
        except (OSError, ValueError, AttributeError, KeyError):
            pass  # no cache yet, or a broken one: parse the file
    import tomllib  # here, not at the top: with a warm cache it is never needed

    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise CatalogError(f"{_shown(path)} is not valid TOML ({error}); fix the file.") from None
    if cache is not None:
        _write_parse_cache(cache, {"stamp": stamp, "data": data})
    return data


def _parse_cache_path(path: Path) -> Path | None:
    """Only ftui's own assets are cached (a copy a test edits is parsed each time); FTUI_NO_CACHE=1 turns it off."""
    if os.environ.get("FTUI_NO_CACHE"):
        return None
    if not path.resolve().is_relative_to(assets_dir().resolve()):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
    return Path(base) / "ftui" / "catalog" / f"{path.stem}-{key}.json"


def _write_parse_cache(cache: Path, payload: dict[str, Any]) -> None:
    """Best effort: a read-only home or a value JSON cannot hold just means no cache."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(temporary, cache)
    except (OSError, TypeError, ValueError):
        pass


def _shown(path: Path) -> str:
    """The path as the user knows it: relative to the repo or package that holds assets/."""
    parts = path.parts
    if "assets" in parts:
        return "/".join(parts[len(parts) - parts[::-1].index("assets") - 1 :])
    return str(path)


class _Entry:
    """Reads one table of a data file; every complaint names the file and the entry."""

    def __init__(self, path: Path, label: str, data: Any, prefix: str = ""):
        self.path, self.label, self.prefix = path, label, prefix
        if not isinstance(data, dict):
            self.fail("must be a table")
        self.data: dict[str, Any] = data

    def fail(self, problem: str) -> None:
        raise CatalogError(
            f"{_shown(self.path)}, entry {self.label}: {self.prefix}{problem}; fix or remove the entry."
        )

    def text(self, key: str, default: str | None = None, choices: tuple[str, ...] | None = None) -> str:
        value = self.data.get(key, default)
        if value is None:
            self.fail(f"{key} is missing")
        if not isinstance(value, str) or (not value.strip() and default is None):
            self.fail(f"{key} must be a non-empty string")
        if choices and value not in choices:
            self.fail(f"{key} must be one of {', '.join(choices)}, not {value!r}")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            self.fail(f"{key} must be a non-empty string when present")
        return value

    def number(self, key: str, required: bool = True, positive: bool = True) -> float | None:
        value = self.data.get(key)
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(f"{key} must be a number")
        if positive and value <= 0:
            self.fail(f"{key} must be greater than 0")
        return float(value)

    def integer(self, key: str, required: bool = True, minimum: int = 1) -> int | None:
        value = self.data.get(key)
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{key} must be a whole number")
        if value < minimum:
            self.fail(f"{key} must be at least {minimum}")
        return value

    def flag(self, key: str, default: bool | None = None, allow_unknown: bool = False) -> bool | None:
        value = self.data.get(key, default)
        if allow_unknown and value == "unknown":
            return None
        if not isinstance(value, bool):
            self.fail(f"{key} must be true or false" + (' or "unknown"' if allow_unknown else ""))
        return value

    def strings(
        self, key: str, required: bool = False, choices: tuple[str, ...] | None = None
    ) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(f"{key} is missing")
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.fail(f"{key} must be a list of strings")
        if required and not value:
            self.fail(f"{key} must not be empty")
        for item in value:
            if choices and item not in choices:
                self.fail(f"{key} may hold only {', '.join(choices)}, not {item!r}")
        return tuple(value)

    def table(self, key: str, required: bool = True) -> _Entry:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(f"[{key}] is missing")
            value = {}
        if not isinstance(value, dict):
            self.fail(f"{key} must be a table")
        return _Entry(self.path, self.label, value, prefix=f"{self.prefix}{key}.")


def load_models(directory: str | os.PathLike[str], license_ids: set[str] | None = None) -> list[Model]:
    """Every [[model]] in <directory>/models/*.toml, in file order. Duplicate ids are an error."""
    folder = Path(directory) / "models"
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise CatalogError(f"{_shown(folder)} holds no model files; reinstall ftui or restore the folder.")
    models: list[Model] = []
    seen: dict[str, Path] = {}
    for path in files:
        data = _read_toml(path)
        entries = data.get("model")
        if not isinstance(entries, list):
            raise CatalogError(f"{_shown(path)} has no [[model]] tables; fix the file or remove it.")
        for position, raw in enumerate(entries, start=1):
            hf_id = raw.get("hf_id") if isinstance(raw, dict) else None
            label = f"'{hf_id}'" if isinstance(hf_id, str) else f"#{position}"
            model = _model(_Entry(path, label, raw), path, license_ids)
            key = model.hf_id.lower()
            if key in seen:
                _Entry(path, label, raw).fail(f"hf_id is already listed in {_shown(seen[key])}")
            seen[key] = path
            models.append(model)
    return models


def _model(entry: _Entry, path: Path, license_ids: set[str] | None) -> Model:
    hf_id = entry.text("hf_id")
    if hf_id.count("/") != 1:
        entry.fail("hf_id must look like org/name")
    params_b = entry.number("params_b")
    params_active_b = entry.number("params_active_b", required=False)
    license_id = entry.text("license")
    if license_ids is not None and license_id not in license_ids:
        entry.fail(f"license {license_id!r} has no entry in assets/licenses.toml")
    template = entry.optional_text("chat_template")
    if template is not None and template not in CHAT_TEMPLATES:
        entry.fail(f"chat_template {template!r} is not a name Unsloth's get_chat_template accepts")
    unsloth = _unsloth(entry.table("unsloth", required=False))
    return Model(
        hf_id=hf_id,
        name=entry.text("name"),
        family=entry.text("family"),
        kind=entry.text("kind", choices=KINDS),
        modality=entry.text("modality", choices=MODALITIES),
        use_cases=entry.strings("use_cases", required=True, choices=MODEL_USE_CASES),
        params_b=params_b,
        params_active_b=params_active_b,
        dims=_dims(entry.table("dims"), params_b),
        context=entry.table("dims").integer("context", required=False),
        license=license_id,
        commercial_use=entry.text("commercial_use", choices=COMMERCIAL_USE),
        license_conditions=entry.text("license_conditions"),
        gated=entry.flag("gated", allow_unknown=True),
        unsloth=unsloth,
        chat_template=template,
        license_sources=entry.strings("license_sources", required=True),
        released=entry.text("released", default=""),
        variant=entry.text("variant", default=""),
        tags=entry.strings("tags"),
        aliases=entry.strings("aliases"),
        notes=entry.text("notes", default=""),
        gated_evidence=entry.text("gated_evidence", default=""),
        params_source=entry.text("params_source", default=""),
        license_name=entry.text("license_name", default=""),
        source_file=_shown(path),
    )


def _dims(entry: _Entry, params_b: float | None) -> ModelDims:
    heads = entry.integer("heads")
    kv_heads = entry.integer("kv_heads")
    if heads % kv_heads:
        entry.fail(f"heads ({heads}) must be a multiple of kv_heads ({kv_heads})")
    experts = entry.integer("experts", required=False, minimum=0) or 0
    per_token = entry.integer("experts_per_token", required=False, minimum=0) or 0
    if experts and not per_token:
        entry.fail("experts_per_token is missing for a mixture-of-experts model")
    return ModelDims(
        layers=entry.integer("layers"),
        hidden=entry.integer("hidden"),
        intermediate=entry.integer("intermediate"),
        heads=heads,
        kv_heads=kv_heads,
        vocab=entry.integer("vocab"),
        tied_embeddings=entry.flag("tied_embeddings"),
        context=entry.integer("context", required=False) or 4096,
        head_dim=entry.integer("head_dim", required=False),
        architecture=entry.text("architecture", default="llama"),
        experts=experts,
        experts_per_token=per_token,
        moe_intermediate=entry.integer("moe_intermediate", required=False),
        shared_experts=entry.integer("shared_experts", required=False, minimum=0) or 0,
        vision_params_b=entry.number("vision_params_b", required=False) or 0.0,
        params_b=params_b,
    )


def _unsloth(entry: _Entry) -> UnslothRepos:
    repos = {key: entry.optional_text(key) for key in ("bf16", "bnb_4bit", "unsloth_bnb_4bit")}
    for key, repo in repos.items():
        if repo is not None and not repo.lower().startswith("unsloth/"):
            entry.fail(f"{key} must be an unsloth/ repo, not {repo!r}")
    return UnslothRepos(**repos, other=entry.strings("other"), source=entry.text("source", default=""))


def load_licenses(directory: str | os.PathLike[str]) -> list[License]:
    path = Path(directory) / "licenses.toml"
    licenses: list[License] = []
    for position, raw in enumerate(_read_toml(path).get("license", []), start=1):
        label = (
            f"'{raw['id']}'" if isinstance(raw, dict) and isinstance(raw.get("id"), str) else f"#{position}"
        )
        entry = _Entry(path, label, raw)
        clauses = []
        for clause_raw in entry.data.get("clause", []):
            clause = _Entry(path, label, clause_raw)
            clauses.append(
                Clause(id=clause.text("id"), text=clause.text("text"), section=clause.text("section", ""))
            )
        licenses.append(
            License(
                id=entry.text("id"),
                name=entry.text("name"),
                license_class=entry.text("class", choices=LICENSE_CLASSES),
                commercial_use=entry.text("commercial_use", choices=COMMERCIAL_USE),
                summary=entry.text("summary"),
                clauses=tuple(clauses),
                url=entry.text("url", default=""),
                sources=entry.strings("sources"),
            )
        )
    if not licenses:
        raise CatalogError(f"{_shown(path)} has no [[license]] tables; restore the file.")
    return licenses


def load_gpus(directory: str | os.PathLike[str]) -> list[Gpu]:
    path = Path(directory) / "gpus.toml"
    gpus: list[Gpu] = []
    for position, raw in enumerate(_read_toml(path).get("gpu", []), start=1):
        label = (
            f"'{raw['name']}'"
            if isinstance(raw, dict) and isinstance(raw.get("name"), str)
            else f"#{position}"
        )
        entry = _Entry(path, label, raw)
        mib = entry.integer("memory_mib")
        gpus.append(
            Gpu(
                name=entry.text("name"),
                memory_gib=round(mib / 1024, 2),
                bf16=entry.flag("bf16"),
                memory_gb=entry.integer("memory_gb"),
                architecture=entry.text("architecture", default=""),
                keys=tuple(key.lower() for key in entry.strings("keys", required=True)),
                requires=tuple(key.lower() for key in entry.strings("requires")),
                default=bool(entry.flag("default", default=False)),
                notes=entry.text("notes", default=""),
                source=entry.text("source", default=""),
            )
        )
    if not gpus:
        raise CatalogError(f"{_shown(path)} has no [[gpu]] tables; restore the file.")
    return gpus


def _gpu_tokens(name: str) -> set[str]:
    import re

    words = [
        w for w in re.split(r"[^a-z0-9]+", name.lower()) if w and w not in ("nvidia", "geforce", "tesla")
    ]
    tokens = set(words)
    tokens.update(a + b for a, b in zip(words, words[1:], strict=False))  # "rtx 4090" -> "rtx4090"
    return tokens


def _match_gpu(gpus: list[Gpu], name: str) -> Gpu | None:
    import re

    tokens = _gpu_tokens(name)
    found = [gpu for gpu in gpus if tokens & set(gpu.keys)]
    if not found:
        return None
    sizes = {int(m.group(1)) for t in tokens if (m := re.fullmatch(r"(\d+)gb?", t))}
    if sizes:
        sized = [gpu for gpu in found if gpu.memory_gb in sizes]
        found = sized or found
    with_variant = [gpu for gpu in found if gpu.requires and set(gpu.requires) <= tokens]
    if with_variant:
        return with_variant[0]
    plain = [gpu for gpu in found if not gpu.requires] or found
    return next((gpu for gpu in plain if gpu.default), plain[0])


# ---------------------------------------------------------------- models outside the catalog


def dims_for(name_or_path: str, catalog: Catalog | None = None) -> ModelDims:
    """A model's dims: the catalog, else a local directory's config.json, else a config.json in the local
    HF cache, else (only when no offline variable is set: ftui.core.hf_env) the Hub with a short timeout."""
    from ftui.core import hub

    model = (catalog or load_catalog()).find(name_or_path)
    if model is not None:
        return model.dims

    path = fs.expand(name_or_path)
    if fs.is_dir(path):
        config = path / "config.json"
        if not config.is_file():
            raise UserError(
                f"{path} has no config.json; point ftui at a folder that holds a Hugging Face model."
            )
        return _dims_from_file(config)
    if path.suffix == ".json" and fs.is_regular_file(path):
        return _dims_from_file(path)
    if not hub.looks_like_repo_id(name_or_path):
        raise UserError(
            f"{name_or_path!r} is neither a catalog model, a local model folder nor a Hub repo id; "
            "check the name (`ftui models` lists the catalog)."
        )
    cached = hub.cached_config_path(name_or_path)
    if cached is not None:
        return _dims_from_file(cached)
    if variable := offline_variable():
        raise UserError(
            f"{name_or_path} is not in ftui's catalog or the local Hugging Face cache, and {variable} is set; "
            "download it first (`huggingface-cli download "
            f"{name_or_path} config.json`) or unset {variable}."
        )
    config = hub.fetch_config(name_or_path)
    try:
        return dims_from_hf_config(config)
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(
            f"The config.json of {name_or_path} on the Hub lacks {error}; ftui cannot size this model."
        ) from None


def _dims_from_file(path: Path) -> ModelDims:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path} could not be read as JSON ({error}); fix or replace the file.") from None
    try:
        return dims_from_hf_config(config)
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(
            f"{path} lacks the field {error}; ftui needs a transformers config.json to size the model."
        ) from None


def dims_from_hf_config(config: dict[str, Any]) -> ModelDims:
    from ftui.core.dims import dims_from_hf_config as read

    return read(config)
