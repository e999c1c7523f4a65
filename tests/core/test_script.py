"""`ftui script`'s generator: the exact text for each branch, pinned, and user strings always quoted.

The pinned scripts in tests/core/scripts/ were written by the generator as it was before it became a
template, so a change to the template that alters one byte fails here. Update them on purpose with
FTUI_UPDATE_SCRIPTS=1 and read the diff.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

from ftui.core.plan import TrainingSettings
from ftui.core.run_config import RunConfig
from ftui.core.script import generate_script

PINNED = Path(__file__).parent / "scripts"

ROWS = {
    "alpaca.jsonl": [{"instruction": "Say hi", "input": "", "output": "hi"}],
    "sharegpt.jsonl": [{"chat": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}],
    "messages.jsonl": [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    ],
    "pairs.jsonl": [{"prompt": "hi", "completion": "hello"}],
    "plain.jsonl": [{"text": "Once upon a time."}],
}

CASES: dict[str, RunConfig] = {
    "qlora-alpaca-chatml": RunConfig(model="unsloth/Qwen3-8B", data="alpaca.jsonl", template="chatml"),
    "lora-sharegpt-mapped-eval-responses": RunConfig(
        model="meta-llama/Llama-3.1-8B-Instruct",
        repo="unsloth/Llama-3.1-8B-Instruct",
        data="sharegpt.jsonl",
        template="llama-3.1",
        mapping={"conversations": "chat"},
        settings=TrainingSettings(
            method="lora",
            eval_split=0.1,
            responses_only=True,
            max_steps=60,
            gradient_checkpointing="plain",
            packing=True,
        ),
    ),
    "full-messages-model-template-gguf": RunConfig(
        model="Qwen/Qwen2.5-0.5B-Instruct",
        data="messages.jsonl",
        template="model",
        settings=TrainingSettings(method="full", save_gguf="q4_k_m", save_merged=True, gpus=(0, 1)),
    ),
    "lora-pairs-jinja-merged": RunConfig(
        model="local/model",
        data="pairs.jsonl",
        template="my-template.jinja",
        settings=TrainingSettings(method="lora", save_merged=True, gradient_checkpointing="none"),
    ),
    "qlora-plain-text": RunConfig(model="unsloth/Qwen3-8B", data="plain.jsonl", template=None),
    # Launched as `ftui train --nodes 2 --gpus 0,1 --sharding fsdp` launches it: torchrun on each machine.
    "qlora-sharded-two-machines": RunConfig(
        model="Qwen/Qwen2.5-32B-Instruct",
        data="alpaca.jsonl",
        template="chatml",
        settings=TrainingSettings(gpus=(0, 1), nodes=2, sharding="fsdp"),
    ),
    "hub-dataset-not-cached": RunConfig(
        model="unsloth/Qwen3-8B", data="someone/not-downloaded", template="chatml"
    ),
}


@pytest.fixture
def data_folder(tmp_path, monkeypatch):
    """The datasets, in the current directory so that the scripts name them by relative paths."""
    for name, rows in ROWS.items():
        (tmp_path / name).write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    for name in ("data.csv", "data.tsv"):
        (tmp_path / name).write_text("text\nhello\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "empty-datasets-cache"))
    return tmp_path


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_script_is_the_pinned_text(data_folder, name):
    script = generate_script(CASES[name])
    pinned = PINNED / f"{name}.py.txt"
    if os.environ.get("FTUI_UPDATE_SCRIPTS"):
        pinned.write_text(script, encoding="utf-8")
    assert script == pinned.read_text(encoding="utf-8")
    compile(script, name, "exec")


@pytest.mark.parametrize(
    ("data", "loader"),
    [
        ("data.csv", 'load_dataset("csv", data_files=DATA, split="train")'),
        ("data.tsv", 'load_dataset("csv", data_files=DATA, split="train", delimiter="\\t")'),
        ("data.parquet", 'load_dataset("parquet", data_files=DATA, split="train")'),
        ("DATA.JSON", 'load_dataset("json", data_files=DATA, split="train")'),
    ],
)
def test_each_file_kind_has_its_loader(data_folder, data, loader):
    script = generate_script(RunConfig(model="m/m", data=data, template="chatml"))
    assert f"DATA = {data!r}" in script
    assert f"\ndataset = {loader}\n" in script


HOSTILE = [
    'it\'s "quoted"',
    "line one\nline two",
    "ends with a backslash \\",
    "triple '''single''' and \"\"\"double\"\"\" quotes",
    "\\N{not an escape} \\x00 \\u12",
    "{{ jinja }} {% raw %} {#",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_names_stay_quoted(data_folder, text):
    """A model, dataset, repo, template or column name is data in the script: it never breaks its syntax."""
    config = RunConfig(
        model=f"org/{text}",
        repo=f"unsloth/{text}",
        data=f"folder/{text}.jsonl",
        template=f"{text}.jinja",
        format="alpaca",
        mapping={"instruction": text, "output": f"out {text}"},
        settings=TrainingSettings(optimizer=f"opt {text}", save_gguf=text),
    )
    script = generate_script(config)
    tree = ast.parse(script)  # a broken quote would be a SyntaxError here
    values = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in ("MODEL", "DATA")
    }
    assert values == {"MODEL": f"unsloth/{text}", "DATA": f"folder/{text}.jsonl"}
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
    assert {text, f"out {text}", f"{text}.jinja", f"opt {text}"} <= strings
    docstring = ast.get_docstring(tree) or ""
    assert f"org/{text}" in docstring and f"folder/{text}.jsonl" in docstring
