"""The catalog's data files, declared once as types, and read into the records ftui works with.

Each kind of entry is a msgspec Struct below: a field's type says what it may hold, Meta its bounds, a
default that it may be left out; keys the schema does not name are ignored. assets/models/README.md
describes the same fields for people. ftui checks every entry against its Struct itself, walking the
declared types (msgspec.inspect), so that a problem is told in ftui's words with its file and entry
("params_b must be a number"), never in a library's; msgspec then builds the typed entry.

Only imported when the catalog is read from its files; a cached catalog (ftui.core.catalog) needs neither
this module nor msgspec.
"""

from __future__ import annotations

import os
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar, get_args

import msgspec
import msgspec.inspect as types

from ftui.core.catalog_records import (
    CHAT_TEMPLATES,
    CatalogError,
    Clause,
    CommercialUse,
    Gpu,
    Kind,
    License,
    LicenseClass,
    Modality,
    Model,
    UnslothRepos,
    UseCase,
    shown,
)
from ftui.core.dims import ModelDims

NON_BLANK = r"\S"
Text = Annotated[str, msgspec.Meta(pattern=NON_BLANK)]  # a string with something in it
Number = Annotated[float, msgspec.Meta(gt=0)]
Count = Annotated[int, msgspec.Meta(ge=1)]
CountOrZero = Annotated[int, msgspec.Meta(ge=0)]
Strings = tuple[str, ...]
SomeStrings = Annotated[tuple[str, ...], msgspec.Meta(min_length=1)]
EntryT = TypeVar("EntryT", bound=msgspec.Struct)
# msgspec.inspect sorts a Literal's values; a message lists them in the order they are declared.
_DECLARED_ORDER = {
    frozenset(get_args(kind)): get_args(kind)
    for kind in (Kind, Modality, CommercialUse, LicenseClass, UseCase)
}


# ---------------------------------------------------------------- the schema


class DimsTable(msgspec.Struct, frozen=True):
    """[model.dims]: the architecture in the numbers the memory and time estimates need."""

    layers: Count
    hidden: Count
    intermediate: Count
    heads: Count
    kv_heads: Count
    vocab: Count
    tied_embeddings: bool
    context: Count | None = None  # None: not verified (the estimate then assumes 4096)
    head_dim: Count | None = None  # None: hidden / heads
    architecture: str = "llama"
    experts: CountOrZero = 0  # mixture of experts: routed experts per layer (0: dense)
    experts_per_token: CountOrZero = 0
    moe_intermediate: Count | None = None
    shared_experts: CountOrZero = 0
    vision_params_b: Number | None = None  # the image tower of a vision model
    source: str = ""


class UnslothTable(msgspec.Struct, frozen=True):
    """[model.unsloth]: Unsloth's copies of the model on the Hub."""

    bf16: Text | None = None
    bnb_4bit: Text | None = None
    unsloth_bnb_4bit: Text | None = None
    other: Strings = ()
    source: str = ""


class ModelEntry(msgspec.Struct, frozen=True):
    """A [[model]] table of assets/models/<family>.toml."""

    hf_id: Text
    name: Text
    family: Text
    kind: Kind
    modality: Modality
    use_cases: Annotated[tuple[UseCase, ...], msgspec.Meta(min_length=1)]
    params_b: Number
    license: Text
    commercial_use: CommercialUse
    license_conditions: Text
    gated: bool | Literal["unknown"]
    license_sources: SomeStrings
    dims: DimsTable
    params_active_b: Number | None = None
    chat_template: Text | None = None
    unsloth: UnslothTable = msgspec.field(default_factory=UnslothTable)
    released: str = ""
    variant: str = ""
    tags: Strings = ()
    aliases: Strings = ()
    notes: str = ""
    gated_evidence: str = ""
    params_source: str = ""
    license_name: str = ""


class ClauseEntry(msgspec.Struct, frozen=True):
    """A [[license.clause]] table."""

    id: Text
    text: Text
    section: str = ""


class LicenseEntry(msgspec.Struct, frozen=True):
    """A [[license]] table of assets/licenses.toml."""

    id: Text
    name: Text
    license_class: LicenseClass = msgspec.field(name="class")
    commercial_use: CommercialUse
    summary: Text
    clauses: tuple[ClauseEntry, ...] = msgspec.field(default=(), name="clause")
    url: str = ""
    sources: Strings = ()


class GpuEntry(msgspec.Struct, frozen=True):
    """A [[gpu]] table of assets/gpus.toml."""

    name: Text
    memory_mib: Count
    bf16: bool
    memory_gb: Count
    keys: SomeStrings
    architecture: str = ""
    requires: Strings = ()
    default: bool = False
    notes: str = ""
    source: str = ""


# ---------------------------------------------------------------- reading the files


def read_catalog(directory: Path) -> tuple[list[Model], list[License], list[Gpu]]:
    """Every model, license and GPU in `directory` (an assets folder), checked; CatalogError otherwise."""
    licenses = read_licenses(directory)
    gpus = read_gpus(directory)
    models = read_models(directory, {lic.id for lic in licenses})
    return models, licenses, gpus


def read_models(directory: str | os.PathLike[str], license_ids: set[str] | None = None) -> list[Model]:
    """Every [[model]] in <directory>/models/*.toml, in file order. Duplicate ids are an error."""
    folder = Path(directory) / "models"
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise CatalogError(f"{shown(folder)} holds no model files; reinstall ftui or restore the folder.")
    models: list[Model] = []
    seen: dict[str, Path] = {}
    for path in files:
        tables = _read_toml(path).get("model")
        if not isinstance(tables, list):
            raise CatalogError(f"{shown(path)} has no [[model]] tables; fix the file or remove it.")
        for position, table in enumerate(tables, start=1):
            entry = _Entry(path, table, position, "hf_id")
            model = entry.read(ModelEntry)
            problem = _model_problem(model, license_ids)
            if problem is None and model.hf_id.lower() in seen:
                problem = f"hf_id is already listed in {shown(seen[model.hf_id.lower()])}"
            if problem:
                entry.fail(problem)
            seen[model.hf_id.lower()] = path
            models.append(_model(model, path))
    return models


def read_licenses(directory: str | os.PathLike[str]) -> list[License]:
    path = Path(directory) / "licenses.toml"
    licenses = []
    for position, table in enumerate(_tables(path, "license"), start=1):
        entry = _Entry(path, table, position, "id").read(LicenseEntry)
        fields = msgspec.structs.asdict(entry)
        fields["clauses"] = tuple(Clause(**msgspec.structs.asdict(clause)) for clause in entry.clauses)
        licenses.append(License(**fields))
    return licenses


def read_gpus(directory: str | os.PathLike[str]) -> list[Gpu]:
    path = Path(directory) / "gpus.toml"
    gpus = []
    for position, table in enumerate(_tables(path, "gpu"), start=1):
        fields = msgspec.structs.asdict(_Entry(path, table, position, "name").read(GpuEntry))
        fields["memory_gib"] = round(fields.pop("memory_mib") / 1024, 2)
        fields["keys"] = tuple(key.lower() for key in fields["keys"])
        fields["requires"] = tuple(key.lower() for key in fields["requires"])
        gpus.append(Gpu(**fields))
    return gpus


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise CatalogError(f"{shown(path)} is missing; reinstall ftui or restore the file.") from None
    except tomllib.TOMLDecodeError as error:
        raise CatalogError(f"{shown(path)} is not valid TOML ({error}); fix the file.") from None


def _tables(path: Path, name: str) -> list[Any]:
    tables = _read_toml(path).get(name)
    if not isinstance(tables, list) or not tables:
        raise CatalogError(f"{shown(path)} has no [[{name}]] tables; restore the file.")
    return tables


def _model_problem(model: ModelEntry, license_ids: set[str] | None) -> str | None:
    """What the types cannot say: how fields relate to each other and to the rest of the catalog."""
    if model.hf_id.count("/") != 1:
        return "hf_id must look like org/name"
    if license_ids is not None and model.license not in license_ids:
        return f"license {model.license!r} has no entry in assets/licenses.toml"
    if model.chat_template is not None and model.chat_template not in CHAT_TEMPLATES:
        return f"chat_template {model.chat_template!r} is not a name Unsloth's get_chat_template accepts"
    for key in ("bf16", "bnb_4bit", "unsloth_bnb_4bit"):
        repo = getattr(model.unsloth, key)
        if repo is not None and not repo.lower().startswith("unsloth/"):
            return f"unsloth.{key} must be an unsloth/ repo, not {repo!r}"
    dims = model.dims
    if dims.heads % dims.kv_heads:
        return f"dims.heads ({dims.heads}) must be a multiple of kv_heads ({dims.kv_heads})"
    if dims.experts and not dims.experts_per_token:
        return "dims.experts_per_token is missing for a mixture-of-experts model"
    return None


def _model(entry: ModelEntry, path: Path) -> Model:
    dims = msgspec.structs.asdict(entry.dims)
    del dims["source"]
    dims.update(
        context=entry.dims.context or 4096,
        vision_params_b=entry.dims.vision_params_b or 0.0,
        params_b=entry.params_b,
    )
    fields = msgspec.structs.asdict(entry)
    fields.update(
        dims=ModelDims(**dims),
        context=entry.dims.context,
        gated=None if entry.gated == "unknown" else entry.gated,
        unsloth=UnslothRepos(**msgspec.structs.asdict(entry.unsloth)),
        source_file=shown(path),
    )
    return Model(**fields)


class _Entry:
    """One table of a data file, named as the user finds it: by its id (or its position) in its file."""

    def __init__(self, path: Path, table: Any, position: int, id_key: str):
        self.path, self.table = path, table
        ident = table.get(id_key) if isinstance(table, dict) else None
        self.label = f"'{ident}'" if isinstance(ident, str) else f"#{position}"

    def fail(self, problem: str) -> NoReturn:
        raise CatalogError(f"{shown(self.path)}, entry {self.label}: {problem}; fix or remove the entry.")

    def read(self, kind: type[EntryT]) -> EntryT:
        if not isinstance(self.table, dict):
            self.fail("must be a table")
        problem = _table_problem(self.table, _schema(kind))
        if problem:
            self.fail(problem)
        try:
            return msgspec.convert(self.table, kind)
        except msgspec.ValidationError:  # a rule of the schema that _value_problem has no words for yet
            self.fail("has a value ftui cannot read (see the field list in assets/models/README.md)")


@cache
def _schema(kind: type[msgspec.Struct]) -> types.StructType:
    info = types.type_info(kind)
    assert isinstance(info, types.StructType)
    return info


def _table_problem(table: dict[str, Any], schema: types.StructType, prefix: str = "") -> str | None:
    """The first field of `table` that does not fit `schema`, in ftui's words; None when all fit."""
    for field in schema.fields:
        key = prefix + field.encode_name
        if field.encode_name not in table:
            if field.required:
                return (
                    f"[{key}] is missing" if isinstance(field.type, types.StructType) else f"{key} is missing"
                )
            continue
        problem = _value_problem(table[field.encode_name], field.type, key, optional=not field.required)
        if problem:
            return problem
    return None


def _value_problem(value: Any, kind: types.Type, key: str, optional: bool = False) -> str | None:
    if isinstance(kind, types.UnionType):
        # TOML has no null: None in a union only means the key may be left out.
        kinds = [k for k in kind.types if not isinstance(k, types.NoneType)]
        if len(kinds) == 1:
            return _value_problem(value, kinds[0], key, optional)
        if any(_value_problem(value, k, key) is None for k in kinds):
            return None
        return f"{key} must be " + " or ".join(_described(k) for k in kinds)
    if isinstance(kind, types.StructType):
        if not isinstance(value, dict):
            return f"{key} must be a table"
        return _table_problem(value, kind, prefix=f"{key}.")
    if isinstance(kind, types.StrType):
        if isinstance(value, str) and (not kind.pattern or re.search(kind.pattern, value)):
            return None
        if kind.pattern != NON_BLANK:
            return f"{key} must be a string"
        return f"{key} must be a non-empty string" + (" when present" if optional else "")
    if isinstance(kind, types.BoolType):
        return None if isinstance(value, bool) else f"{key} must be true or false"
    if isinstance(kind, types.IntType | types.FloatType):
        whole = isinstance(kind, types.IntType)
        if isinstance(value, bool) or not isinstance(value, int if whole else int | float):
            return f"{key} must be {'a whole number' if whole else 'a number'}"
        return _bounds_problem(value, kind, key)
    if isinstance(kind, types.LiteralType):
        if value in kind.values:
            return None
        return f"{key} must be one of {_choices(kind)}, not {value!r}"
    if isinstance(kind, types.VarTupleType | types.ListType):
        return _list_problem(value, kind, key)
    raise TypeError(f"the catalog's schema uses {kind!r} for {key}; _value_problem needs words for it")


def _list_problem(value: Any, kind: types.VarTupleType | types.ListType, key: str) -> str | None:
    item = kind.item_type
    if isinstance(item, types.StructType):  # an array of tables, e.g. [[license.clause]]
        if not isinstance(value, list):
            return f"{key} must be an array of tables"
        for position, element in enumerate(value, start=1):
            if not isinstance(element, dict):
                return f"{key} {position} must be a table"
            if problem := _table_problem(element, item, prefix=f"{key} {position}: "):
                return problem
        return None
    if not isinstance(value, list) or not all(isinstance(element, str) for element in value):
        return f"{key} must be a list of strings"
    if kind.min_length and len(value) < kind.min_length:
        return f"{key} must not be empty"
    if isinstance(item, types.LiteralType):
        wrong = next((element for element in value if element not in item.values), None)
        if wrong is not None:
            return f"{key} may hold only {_choices(item)}, not {wrong!r}"
    return None


def _bounds_problem(value: float, kind: types.IntType | types.FloatType, key: str) -> str | None:
    if kind.ge is not None and value < kind.ge:
        return f"{key} must be at least {kind.ge}"
    if kind.gt is not None and value <= kind.gt:
        return f"{key} must be greater than {kind.gt}"
    if kind.le is not None and value > kind.le:
        return f"{key} must be at most {kind.le}"
    if kind.lt is not None and value >= kind.lt:
        return f"{key} must be less than {kind.lt}"
    return None


def _choices(kind: types.LiteralType) -> str:
    return ", ".join(map(str, _DECLARED_ORDER.get(frozenset(kind.values), kind.values)))


def _described(kind: types.Type) -> str:
    """A type as one alternative of a union: `gated must be true or false or "unknown"`."""
    if isinstance(kind, types.BoolType):
        return "true or false"
    if isinstance(kind, types.LiteralType):
        return " or ".join(f'"{value}"' for value in kind.values)
    raise TypeError(f"the catalog's schema uses {kind!r} in a union; _described needs words for it")
