"""`ftui inspect` end to end, as a user runs it: a real subprocess, its stdout, stderr and exit status."""

from __future__ import annotations

import json
import subprocess
import sys

from ftui.core.paths import assets_dir

SAMPLES = assets_dir() / "samples"


def ftui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ftui", "inspect", *args], capture_output=True, text=True, timeout=60
    )


def test_the_alpaca_sample_is_clean_and_its_json_has_the_documented_fields():
    result = ftui(str(SAMPLES / "alpaca_sample.jsonl"), "--json", "--template", "alpaca", "--preview", "2")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["rows"], data["usable_rows"], data["format"], data["problems"]) == (80, 80, "alpaca", [])
    assert data["columns"] == {"instruction": "instruction", "output": "output", "input": "input"}
    assert data["tokens"]["counted_with"] == "estimate" and data["tokens"]["total"] > 0
    assert (
        data["preview"][0].startswith("Below are some instructions")
        and "### Response:\n" in data["preview"][0]
    )
    assert set(data["advice"]) >= {"rows_for_training", "max_length", "notes"}


def test_sharegpt_and_messages_samples_agree():
    a = json.loads(
        ftui(
            str(SAMPLES / "sharegpt_sample.jsonl"), "--json", "--template", "chatml", "--preview", "12"
        ).stdout
    )
    b = json.loads(
        ftui(
            str(SAMPLES / "messages_sample.jsonl"), "--json", "--template", "chatml", "--preview", "12"
        ).stdout
    )
    assert (a["format"], b["format"]) == ("sharegpt", "messages")
    assert a["preview"] == b["preview"] and len(a["preview"]) == 12
    assert a["tokens"] == b["tokens"]


def test_problems_are_listed_and_the_exit_is_still_zero(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "a", "output": ""}\n{oops\n')
    result = ftui(str(path))
    assert result.returncode == 0
    assert "Line 2 of mine.jsonl: 'output' is empty; fill it in or delete the row." in result.stdout
    assert "Line 3 of mine.jsonl: the JSON is malformed" in result.stdout


def test_not_a_dataset_exits_1_with_one_sentence(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\x00\x01\x02" * 100)
    result = ftui(str(path))
    assert result.returncode == 1 and result.stdout == ""
    assert (
        result.stderr
        == "ftui: weights.bin is a binary file, not JSON, JSONL, CSV or Parquet; give ftui the dataset file itself.\n"
    )


def test_unknown_format_then_mapped(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text("q,a\nWhy?,Because.\n")
    refused = ftui(str(path))
    assert refused.returncode == 1 and "--format" in refused.stderr and refused.stderr.count("\n") == 1
    mapped = ftui(str(path), "--format", "prompt_completion", "--map", "prompt=q,completion=a", "--json")
    assert mapped.returncode == 0 and json.loads(mapped.stdout)["usable_rows"] == 1


def test_bad_usage_exits_2(tmp_path):
    assert ftui(str(SAMPLES / "alpaca_sample.jsonl"), "--preview", "2").returncode == 2
    assert ftui(str(SAMPLES / "alpaca_sample.jsonl"), "--map", "nonsense").returncode == 2
    assert ftui(str(SAMPLES / "alpaca_sample.jsonl"), "--map", "colour=x").returncode == 2


def test_with_a_model_the_preview_uses_its_own_template_as_train_does(tmp_path):
    from tests.helpers.tiny_model import build_tokenizer

    model = tmp_path / "tiny"
    build_tokenizer(model)  # a tokenizer with a ChatML template of its own, saved as a model folder has it
    sample = str(SAMPLES / "alpaca_sample.jsonl")
    implied = ftui(sample, "--model", str(model), "--preview", "1")
    named = ftui(sample, "--model", str(model), "--template", "model", "--preview", "1")
    assert implied.returncode == 0 and named.returncode == 0, implied.stderr + named.stderr
    assert implied.stdout == named.stdout
    text = implied.stdout.split("--- training text 1 (model) ---\n", 1)[1]
    assert text.startswith("<|im_start|>user\n") and text.rstrip().endswith("<|im_end|>")
    # without a model there is no template of its own: one sentence, not a traceback
    alone = ftui(sample, "--template", "model", "--preview", "1")
    assert alone.returncode == 1 and "model's own chat template" in alone.stderr
    assert len(alone.stderr.strip().splitlines()) == 1
