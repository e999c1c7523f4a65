"""A broken data file is reported with its file and entry, in one sentence, never as a traceback."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ftui.core.catalog import CatalogError, load_catalog
from ftui.core.errors import UserError
from ftui.core.paths import assets_dir


@pytest.fixture
def assets_copy(tmp_path):
    """A private copy of the shipped assets/ that a test may break."""
    target = tmp_path / "assets"
    shutil.copytree(assets_dir(), target)
    return target


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_a_copy_loads_like_the_original(assets_copy):
    assert len(load_catalog(assets_copy).models) == len(load_catalog().models)


def test_a_wrong_type_names_file_entry_and_field(assets_copy):
    llama = assets_copy / "models" / "llama.toml"
    replace_in(llama, "params_b = 8.03", 'params_b = "eight"')
    with pytest.raises(CatalogError) as caught:
        load_catalog(assets_copy)
    message = str(caught.value)
    assert message == (
        "assets/models/llama.toml, entry 'meta-llama/Llama-3.1-8B': params_b must be a number; fix or remove the entry."
    )
    assert isinstance(caught.value, UserError)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ('kind = "base"', 'kind = "chat"', "kind must be one of base, instruct"),
        ('modality = "text"', 'modality = "audio"', "modality must be one of text, code, vision"),
        (
            'commercial_use = "yes_with_conditions"',
            'commercial_use = "maybe"',
            "commercial_use must be one of",
        ),
        (
            'license = "llama3.1"',
            'license = "llama9"',
            "license 'llama9' has no entry in assets/licenses.toml",
        ),
        (
            'chat_template = "llama-3.1"',
            'chat_template = "llama-9"',
            "is not a name Unsloth's get_chat_template accepts",
        ),
        ("layers = 32", "layers = 0", "dims.layers must be at least 1"),
        ("kv_heads = 8", "kv_heads = 7", "dims.heads (32) must be a multiple of kv_heads (7)"),
        ("tied_embeddings = false", 'tied_embeddings = "no"', "dims.tied_embeddings must be true or false"),
        ("gated = true", "gated = 3", 'gated must be true or false or "unknown"'),
        (
            'bf16 = "unsloth/Llama-3.1-8B"',
            'bf16 = "meta-llama/Llama-3.1-8B"',
            "unsloth.bf16 must be an unsloth/ repo",
        ),
        (
            'use_cases = ["general"]',
            'use_cases = ["chat"]',
            "use_cases may hold only general, code, vision, reasoning",
        ),
    ],
)
def test_each_broken_field_is_reported(assets_copy, old, new, problem):
    replace_in(assets_copy / "models" / "llama.toml", old, new)
    with pytest.raises(
        CatalogError, match="assets/models/llama.toml, entry 'meta-llama/Llama-3.1-8B'"
    ) as caught:
        load_catalog(assets_copy)
    assert problem in str(caught.value)
    assert str(caught.value).endswith("; fix or remove the entry.")


def test_a_missing_field(assets_copy):
    replace_in(assets_copy / "models" / "llama.toml", 'family = "Llama 3.1"\n', "")
    with pytest.raises(CatalogError, match="entry 'meta-llama/Llama-3.1-8B': family is missing"):
        load_catalog(assets_copy)


def test_invalid_toml_names_the_file(assets_copy):
    (assets_copy / "models" / "qwen.toml").write_text("[[model]]\nhf_id = \n")
    with pytest.raises(
        CatalogError, match=r"^assets/models/qwen.toml is not valid TOML \(.*\); fix the file.$"
    ):
        load_catalog(assets_copy)


def test_a_duplicate_model_names_both_files(assets_copy):
    text = (assets_copy / "models" / "tinyllama.toml").read_text()
    (assets_copy / "models" / "zz-extra.toml").write_text(text)
    with pytest.raises(
        CatalogError,
        match="zz-extra.toml, entry 'TinyLlama/.*': hf_id is already listed in assets/models/tinyllama.toml",
    ):
        load_catalog(assets_copy)


def test_broken_gpu_and_license_entries(assets_copy):
    replace_in(assets_copy / "gpus.toml", "memory_mib = 15360", "memory_mib = -1")
    with pytest.raises(CatalogError, match="assets/gpus.toml, entry 'T4': memory_mib must be at least 1"):
        load_catalog(assets_copy)
    shutil.copy(assets_dir() / "gpus.toml", assets_copy / "gpus.toml")
    replace_in(assets_copy / "licenses.toml", 'class = "permissive"', 'class = "free"')
    with pytest.raises(CatalogError, match="assets/licenses.toml, entry 'apache-2.0': class must be one of"):
        load_catalog(assets_copy)


def test_a_model_added_as_data_only_is_found(assets_copy):
    (assets_copy / "models" / "extra.toml").write_text(
        """
[[model]]
hf_id = "example/Tiny-1B-Instruct"
name = "Tiny 1B"
family = "Tiny"
kind = "instruct"
modality = "text"
use_cases = ["general"]
params_b = 1.0
license = "apache-2.0"
commercial_use = "yes"
license_conditions = "Permissive."
license_sources = ["https://example.org/LICENSE"]
gated = false
chat_template = "chatml"

[model.dims]
layers = 16
hidden = 2048
intermediate = 8192
heads = 32
kv_heads = 8
vocab = 32000
tied_embeddings = true
"""
    )
    model = load_catalog(assets_copy).find("EXAMPLE/tiny-1b-instruct")
    assert model is not None and model.repo_for("qlora") == "example/Tiny-1B-Instruct"


def test_the_cli_reports_a_broken_catalog_in_one_sentence(assets_copy, tmp_path):
    """A real `ftui models` run against a broken copy installed as the package's assets."""
    replace_in(assets_copy / "models" / "llama.toml", "params_b = 8.03", 'params_b = "eight"')
    package = tmp_path / "site" / "ftui"
    shutil.copytree(
        Path(__file__).resolve().parents[2] / "ftui", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(assets_copy, package / "assets")
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from ftui.cli import main; sys.exit(main(['models']))"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(package.parent), "PATH": "/usr/bin:/bin", "FTUI_NO_CACHE": "1"},
        cwd=tmp_path,  # not the checkout, whose ftui/ would come first on sys.path
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "ftui: assets/models/llama.toml, entry 'meta-llama/Llama-3.1-8B': params_b must be a number; fix or remove the entry.\n"
    )


def test_the_checked_catalog_is_cached_and_follows_edits(assets_copy, tmp_path, monkeypatch):
    """The shipped catalog's records are cached; an edit (new size or mtime) or a new file is seen at once."""
    from ftui.core import catalog as catalog_module
    from ftui.core import catalog_files

    monkeypatch.setattr(catalog_module, "assets_dir", lambda: assets_copy)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("FTUI_NO_CACHE", raising=False)

    def load():
        catalog_module._load_cached.cache_clear()  # the per-process cache; this test is about the file
        return load_catalog(assets_copy)

    first = load()
    assert len(list((tmp_path / "cache" / "ftui" / "catalog").glob("*.pickle"))) == 1
    read_files = catalog_files.read_catalog
    with monkeypatch.context() as patch:
        patch.setattr(
            catalog_files, "read_catalog", lambda root: pytest.fail("read the files, not the cache")
        )
        assert load().models == first.models and load().gpus == first.gpus
    replace_in(assets_copy / "gpus.toml", 'name = "T4"', 'name = "Tesla T4"')
    assert load().gpus[0].name == "Tesla T4"
    (assets_copy / "models" / "zz-extra.toml").write_text(
        (assets_copy / "models" / "tinyllama.toml").read_text().replace("TinyLlama/", "Someone/")
    )
    assert load().find("Someone/TinyLlama-1.1B-Chat-v1.0") is not None
    replace_in(assets_copy / "gpus.toml", "memory_mib = 15360", "memory_mib = 15360\nbroken =")
    with pytest.raises(CatalogError, match="gpus.toml is not valid TOML"):
        load()
    assert catalog_files.read_catalog is read_files


def test_a_broken_cache_is_read_past(assets_copy, tmp_path, monkeypatch):
    from ftui.core import catalog as catalog_module

    monkeypatch.setattr(catalog_module, "assets_dir", lambda: assets_copy)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("FTUI_NO_CACHE", raising=False)
    load_catalog(assets_copy)
    (cached,) = (tmp_path / "cache" / "ftui" / "catalog").glob("*.pickle")
    cached.write_bytes(cached.read_bytes()[:-100])  # a write cut short
    catalog_module._load_cached.cache_clear()
    assert len(load_catalog(assets_copy).models) == len(load_catalog().models)


def test_a_cached_load_needs_neither_msgspec_nor_the_toml_parser(tmp_path):
    """What makes the cache fast: a second process reads the records back without importing either."""
    code = (
        "import json, sys; from ftui.core.catalog import load_catalog; load_catalog();"
        "print(json.dumps([m for m in ('msgspec', 'tomllib', 'ftui.core.catalog_files') if m in sys.modules]))"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("FTUI_NO_CACHE", None)
    loaded = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
            ).stdout
        )
        for _ in range(2)
    ]
    assert loaded == [["msgspec", "tomllib", "ftui.core.catalog_files"], []]


def _fields(struct):
    import msgspec.inspect

    return msgspec.inspect.type_info(struct).fields


def _schema_cases():
    """(file, table to reach the entry, key path inside it, the key as a message names it, required) for
    every field the catalog's schema declares, nested tables included."""
    from ftui.core import catalog_files as schema

    tops = [
        ("models/llama.toml", "model", schema.ModelEntry),
        ("licenses.toml", "license", schema.LicenseEntry),
        ("gpus.toml", "gpu", schema.GpuEntry),
    ]
    nested = {"dims": schema.DimsTable, "unsloth": schema.UnslothTable, "clause": schema.ClauseEntry}
    for file, array, struct in tops:
        for field in _fields(struct):
            name = field.encode_name
            yield file, array, (name,), name, field.required
            if name in nested:
                for inner in _fields(nested[name]):
                    if name == "clause":  # an array of tables: its first one
                        yield (
                            file,
                            array,
                            (name, 0, inner.encode_name),
                            f"clause 1: {inner.encode_name}",
                            inner.required,
                        )
                    else:
                        yield (
                            file,
                            array,
                            (name, inner.encode_name),
                            f"{name}.{inner.encode_name}",
                            inner.required,
                        )


SCHEMA_CASES = list(_schema_cases())
IDS = {"model": "hf_id", "license": "id", "gpu": "name"}


def _broken(assets_copy, file, array, path, value):
    """The first entry of `file` with the field at `path` set to `value` (None: removed); its label."""
    import tomllib

    import tomli_w

    data = tomllib.loads((assets_copy / file).read_text())
    entry = data[array][0]
    label = f"'{entry[IDS[array]]}'" if path[0] != IDS[array] else "#1"
    table = entry
    for step in path[:-1]:
        table = table.setdefault(step, {}) if isinstance(step, str) else table[step]
    if value is None:
        table.pop(path[-1], None)
    else:
        table[path[-1]] = value
    (assets_copy / file).write_text(tomli_w.dumps(data))
    return label


@pytest.mark.parametrize(
    ("file", "array", "path", "key", "required"), SCHEMA_CASES, ids=[c[3] for c in SCHEMA_CASES]
)
def test_every_field_of_the_schema_is_checked_in_ftuis_words(assets_copy, file, array, path, key, required):
    """A value no field accepts ([1]: not a string, number, flag, choice, list of strings or table) is named
    by file, entry and field, in ftui's words; msgspec's own words never reach the user."""
    label = _broken(assets_copy, file, array, path, [1])
    with pytest.raises(CatalogError) as caught:
        load_catalog(assets_copy)
    message = str(caught.value)
    assert message.startswith(f"assets/{file}, entry {label}: {key}"), message
    assert re.search(r"^[^:]*: [^;]* must (be|not)[^;]*; fix or remove the entry\.$", message), message
    assert "Expected" not in message and "`" not in message and "$." not in message


REQUIRED_CASES = [case for case in SCHEMA_CASES if case[4]]


@pytest.mark.parametrize(
    ("file", "array", "path", "key", "required"), REQUIRED_CASES, ids=[c[3] for c in REQUIRED_CASES]
)
def test_every_required_field_is_missed_by_name(assets_copy, file, array, path, key, required):
    label = _broken(assets_copy, file, array, path, None)
    with pytest.raises(CatalogError) as caught:
        load_catalog(assets_copy)
    shown_key = f"[{key}]" if key in ("dims",) else key
    assert (
        str(caught.value) == f"assets/{file}, entry {label}: {shown_key} is missing; fix or remove the entry."
    )


def test_the_field_reference_names_every_field_of_a_model():
    from ftui.core import catalog_files as schema

    reference = (assets_dir() / "models" / "README.md").read_text()
    for struct in (schema.ModelEntry, schema.DimsTable, schema.UnslothTable):
        for field in _fields(struct):
            assert f"`{field.encode_name}`" in reference or f"`[model.{field.encode_name}]`" in reference, (
                field.encode_name
            )
