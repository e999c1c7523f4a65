"""`ftui export` end to end on a real finished run: merged 16-bit, GGUF through llama.cpp, the adapter;
an export killed half-way; and every way a user can ask for the impossible."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftui.core.exports import _alive, export_status, read_record
from ftui.core.modelfile import parse_modelfile
from tests.exporter.conftest import ftui
from tests.helpers.finished_run import failed_run

pytestmark = pytest.mark.slow
needs_llama_cpp = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed"
)
PROMPT = "<|im_start|>user\nwhat is 2 plus 3<|im_end|>\n<|im_start|>assistant\n"


def export(run: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    result = ftui("export", str(run), *args, "--json")
    record = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result, record


def torch_modules():
    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return torch, PeftModel, AutoModelForCausalLM, AutoTokenizer


def test_merged_export_has_the_adapter_on_base_logits(finished_run, sp_model, tmp_path):
    out = tmp_path / "merged"
    result, record = export(finished_run, "--format", "merged", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert record["state"] == "completed" and record["out"] == str(out)
    assert {"model.safetensors", "config.json", "tokenizer.json", "chat_template.jinja"} <= set(
        record["files"]
    )
    assert record["base_weights"]["source"] == "local" and record["base_weights"]["path"] == str(sp_model)
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"  # 16-bit, from a float32 base
    rows = record["verification"]["rows"]
    assert len(rows) == 3 and all("merged_agreement" in row for row in rows)

    torch, PeftModel, AutoModelForCausalLM, AutoTokenizer = torch_modules()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert (
        tokenizer.apply_chat_template(
            [{"role": "user", "content": "what is 2 plus 3"}], tokenize=False, add_generation_prompt=True
        )
        == PROMPT
    )  # the run's chat template travels with the model
    ids = tokenizer(PROMPT + "2 plus 3 equals 5", return_tensors="pt").input_ids
    merged = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    base = AutoModelForCausalLM.from_pretrained(sp_model, dtype=torch.float32)
    with torch.no_grad():
        without = base(ids).logits
        tuned = PeftModel.from_pretrained(base, finished_run / "adapter")(ids).logits
        got = merged(ids).logits
    # bf16 keeps 8 bits of mantissa: the merged weights carry its rounding, nothing else.
    tolerance = 2**-7 * float(tuned.abs().max())
    assert float((got - tuned).abs().max()) < tolerance
    assert float((without - tuned).abs().max()) > 10 * tolerance  # the adapter did change the model


@needs_llama_cpp
def test_gguf_export_loads_in_llama_cpp_and_greedy_tokens_match_the_merged_model(finished_run, tmp_path):
    out = tmp_path / "gguf"
    result, record = export(finished_run, "--format", "gguf", "--quant", "f16", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    gguf = Path(record["gguf_file"])
    assert gguf.parent == out and gguf.name.endswith("-f16.gguf") and gguf.stat().st_size > 100_000
    assert sorted(record["files"]) == sorted([gguf.name, "Modelfile"])  # intermediates removed
    verification = record["verification"]
    assert verification["tokenizer_matches"] is True
    assert all("gguf_agreement" in row for row in verification["rows"])

    # Ollama's Modelfile: FROM the file beside it, the ChatML template and its stop tokens.
    instructions = parse_modelfile((out / "Modelfile").read_text())
    assert ("FROM", f"./{gguf.name}") in instructions
    template = dict(instructions)["TEMPLATE"]
    assert "<|im_start|>user\n{{ .Prompt }}<|im_end|>" in template
    assert ("PARAMETER", "stop <|im_end|>") in instructions

    # The same 16 greedy tokens from llama.cpp and from the merged model in transformers.
    merged = tmp_path / "merged-for-gguf"
    result, _ = export(finished_run, "--format", "merged", "--out", str(merged), "--no-verify")
    assert result.returncode == 0, result.stderr[-3000:]
    torch, _, AutoModelForCausalLM, AutoTokenizer = torch_modules()
    tokenizer = AutoTokenizer.from_pretrained(merged)
    ids = tokenizer(PROMPT).input_ids
    model = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32)
    expected: list[int] = []
    with torch.no_grad():  # greedy, 16 tokens, going on past an EOS as llama.cpp's generator does
        for _ in range(16):
            expected.append(int(model(torch.tensor([ids + expected])).logits[0, -1].argmax()))
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf), n_ctx=128, verbose=False, n_gpu_layers=0)
    assert llm.tokenize(PROMPT.encode(), add_bos=True, special=True) == ids
    got = []
    for token in llm.generate(ids, temp=0.0, top_k=1, repeat_penalty=1.0):
        got.append(int(token))
        if len(got) == 16:
            break
    llm.close()
    assert got == expected


@needs_llama_cpp
def test_quantized_gguf_goes_through_llama_cpps_quantizer(finished_run):
    result, record = export(finished_run, "--format", "gguf", "--quant", "q4_k_m")
    assert result.returncode == 0, result.stderr[-3000:]
    out = Path(record["out"])
    assert out == finished_run / "exports" / "gguf-q4_k_m"
    assert record["files"] == sorted([f"{finished_run.name}-q4_k_m.gguf", "Modelfile"])
    import llama_cpp

    llm = llama_cpp.Llama(model_path=record["gguf_file"], n_ctx=64, verbose=False, n_gpu_layers=0)
    assert int(llm.metadata["general.file_type"]) == llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
    llm.close()
    assert "quantizing to q4_k_m" in (finished_run / "exports" / f"{record['export_id']}.log").read_text()


def test_adapter_export_copies_the_adapter(finished_run, tmp_path):
    result, record = export(finished_run, "--format", "adapter", "--out", str(tmp_path / "a"))
    assert result.returncode == 0, result.stderr
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= set(record["files"])
    assert record["verification"] is None and record["base_weights"] is None


def test_an_export_killed_half_way_leaves_nothing_that_looks_finished(finished_run, tmp_path):
    out = tmp_path / "killed"
    result = ftui("export", str(finished_run), "--format", "merged", "--out", str(out), "--detach", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    path = finished_run / "exports" / f"{record['export_id']}.json"
    partial = out.with_name(f".killed.partial-{record['export_id']}")
    deadline = time.monotonic() + 120
    while not (partial.is_dir() and read_record(path).get("phase", "").startswith("merging")):
        assert time.monotonic() < deadline, read_record(path)
        time.sleep(0.1)
    os.killpg(record["pid"], signal.SIGKILL)
    while _alive(read_record(path)):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert partial.is_dir() and not out.exists()  # what the kill left: a hidden partial folder only

    status = export_status(finished_run, record["export_id"])  # what `ftui export` and the TUI read
    assert status["state"] == "failed" and "ended before finishing" in status["error"]
    assert not out.exists() and not partial.exists()


# ----- bad input: one sentence each, nothing written ----------------------------------------------
def test_unknown_quant_type_is_refused(finished_run):
    result = ftui("export", str(finished_run), "--format", "gguf", "--quant", "q9_x")
    assert result.returncode == 2
    assert "--quant 'q9_x' is not a llama.cpp type ftui knows; use one of" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failed_run_is_not_exported(sp_model, export_runs, tmp_path):
    run = failed_run(sp_model, tmp_path / "runs", tmp_path)
    result = ftui("export", str(run), "--format", "merged")
    assert result.returncode == 1
    assert f"Run {run.name} ended failed, so there is no finished model to export" in result.stderr
    assert not (run / "exports").exists()


def test_a_running_run_is_not_exported(sp_model, tmp_path):
    data = tmp_path / "data.jsonl"
    from tests.helpers.datasets import arithmetic_rows, write_jsonl

    write_jsonl(data, arithmetic_rows(40))
    started = ftui(
        "train", "--model", str(sp_model), "--data", str(data), "--method", "lora", "--max-steps", "400",
        "--optimizer", "adamw_torch", "--batch", "2", "--seq", "64", "--runs-dir", str(tmp_path / "runs"), "--detach", "--json",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    run = Path(json.loads(started.stdout)["path"])
    try:
        result = ftui("export", str(run), "--format", "merged")
        assert result.returncode == 1
        assert "is still running, so there is no finished model to export; wait for it" in result.stderr
    finally:
        ftui("kill", str(run))


def _in_a_small_mount(options: str, command: list[str]) -> subprocess.CompletedProcess:
    """Run `command` with a fresh tmpfs (mount `options`) at $MNT, in a private mount namespace: a real
    filesystem with little room, or a read-only one, and nothing left mounted afterwards."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    script = (
        'mnt=$(mktemp -d) && mount -t tmpfs -o "$1" tmpfs "$mnt" && export MNT="$mnt" && shift && exec "$@"'
    )
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", options, *command],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_full_disk_is_refused_before_anything_is_written(finished_run):
    result = _in_a_small_mount(
        "size=4m",
        [
            sys.executable,
            "-c",
            "import os, sys; from ftui.cli import main; sys.exit(main(['export', sys.argv[1], '--format', 'merged', '--out', os.environ['MNT'] + '/merged']))",
            str(finished_run),
        ],
    )
    assert result.returncode == 1, result.stderr
    assert "export needs about" in result.stderr and "only 4.0 MiB is free; free some space" in result.stderr


def test_a_read_only_folder_is_refused(finished_run):
    result = _in_a_small_mount(
        "ro,size=64m",
        [
            sys.executable,
            "-c",
            "import os, sys; from ftui.cli import main; sys.exit(main(['export', sys.argv[1], '--format', 'merged', '--out', os.environ['MNT'] + '/merged']))",
            str(finished_run),
        ],
    )
    assert result.returncode == 1, result.stderr
    assert "Cannot write the export in" in result.stderr and "Read-only file system" in result.stderr
