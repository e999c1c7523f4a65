"""Real training end to end on CPU: the tiny Llama built by the test, trained through the `ftui` command.

Each test starts the real training process (Unsloth's CPU path, TRL's SFTTrainer) in its own session,
as a user's `ftui train` does, and checks what it leaves in the run directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftui.core.run_config import RunConfig
from ftui.core.runs import RunDirectory, find_run
from ftui.core.runs.records import EvalRecord, ResumeRecord, TrainRecord
from tests.helpers.datasets import arithmetic_rows, write_jsonl
from tests.helpers.tiny_model import tiny_llama_for_session

pytestmark = pytest.mark.slow

FAKE_TOKEN = "hf_" + "Q" * 34  # shaped like a real token; must never reach a file the run writes
FAST = [
    "--method",
    "lora",
    "--batch",
    "4",
    "--grad-accum",
    "1",
    "--seq",
    "128",
    "--lr",
    "5e-3",
    "--optimizer",
    "adamw_torch",
    "--template",
    "chatml",
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return tiny_llama_for_session(tmp_path_factory)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "arithmetic.jsonl", arithmetic_rows(120))


def ftui(*args: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ftui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def wait_for(predicate, timeout: float = 120, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def train_steps(run: RunDirectory) -> list[dict]:
    return [r for r in run.metrics() if isinstance(r, TrainRecord)]


def test_train_end_to_end(tiny_model, data, runs_dir):
    result = ftui(
        "train",
        "--model",
        str(tiny_model),
        "--data",
        str(data),
        *FAST,
        "--max-steps",
        "30",
        "--save-steps",
        "10",
        "--eval-split",
        "0.1",
        "--json",
        env={"HF_TOKEN": FAKE_TOKEN},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["state"] == "completed"
    run = find_run(summary["run_id"])
    # --batch and --grad-accum are the user's split: kept, and said so (no GPU here to size one for)
    assert "Batch: Micro-batch 4 x accumulation 1 as set" in result.stderr
    assert RunConfig.read(run.config_path).settings.auto_batch is False

    steps = train_steps(run)
    assert [r.step for r in steps] == list(range(1, 31))
    for record in steps:
        assert record.max_steps == 30
        assert None not in (record.epoch, record.loss, record.grad_norm, record.learning_rate)
    assert all(r.tokens_per_second > 0 for r in steps[1:])
    first, last = steps[0].loss, sum(r.loss for r in steps[-5:]) / 5
    assert last < first - 0.3, f"the loss did not fall: {first:.3f} -> {last:.3f}"
    evals = [r for r in run.metrics() if isinstance(r, EvalRecord)]
    assert evals and all(r.eval_loss > 0 for r in evals)
    assert evals[-1].eval_loss < evals[0].eval_loss

    status = run.read_status()
    assert status.state == "completed" and status.error is None
    assert status.step == 30 and status.max_steps == 30
    assert status.pid > 0 and status.started_at <= status.ended_at
    assert status.last_checkpoint.endswith("checkpoint-30") and Path(status.last_checkpoint).is_dir()
    assert status.output == str(run.adapter_dir)

    # config.toml holds everything needed to run it again.
    config = RunConfig.read(run.config_path)
    assert config.model == str(tiny_model) and config.data == str(data)
    assert (
        config.settings.max_steps == 30 and config.settings.method == "lora" and config.template == "chatml"
    )

    samples = run.samples()
    assert len(samples) == 3 and all(s.prompt.endswith("<|im_start|>assistant\n") for s in samples)
    assert all(isinstance(s.output, str) and s.new_tokens > 0 for s in samples)

    # No token anywhere the run wrote.
    for path in run.path.rglob("*"):
        if path.is_file() and path.stat().st_size < 5_000_000:
            assert FAKE_TOKEN.encode() not in path.read_bytes(), path

    # The adapter loads back with PEFT on the base model and changes its output.
    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(run.adapter_dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    ids = tokenizer(samples[0].prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        before = base(ids).logits
    tuned = PeftModel.from_pretrained(base, run.adapter_dir)
    assert json.loads((run.adapter_dir / "adapter_config.json").read_text())["r"] == 16
    with torch.no_grad():
        after = tuned(ids).logits
    assert not torch.allclose(before, after)


def test_stop_mid_run_saves_adapter_and_resume_continues_from_checkpoint(tiny_model, data, runs_dir):
    result = ftui(
        "train",
        "--model",
        str(tiny_model),
        "--data",
        str(data),
        *FAST,
        "--max-steps",
        "80",
        "--save-steps",
        "1000",
        "--detach",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    run = find_run(json.loads(result.stdout)["run_id"])
    wait_for(lambda: len(train_steps(run)) >= 5, what="five training steps")

    stopped = ftui("stop", run.run_id, "--json")
    assert stopped.returncode == 0, stopped.stderr
    status = run.status()
    assert status.state == "stopped", status
    step = status.step
    assert 5 <= step < 80
    assert (run.adapter_dir / "adapter_model.safetensors").is_file()
    assert run.last_checkpoint().name == f"checkpoint-{step}"  # saved at the stop, not at save_steps
    assert max(r.step for r in train_steps(run)) == step

    resumed = ftui("resume", run.run_id, "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout)["state"] == "completed"
    records = run.metrics()
    marker = next(i for i, r in enumerate(records) if isinstance(r, ResumeRecord))
    assert records[marker].step == step
    after = [r.step for r in records[marker:] if isinstance(r, TrainRecord)]
    assert after == list(range(step + 1, 81))
    assert run.status().state == "completed" and run.status().step == 80


def test_sigkill_is_noticed_by_the_next_ftui_runs(tiny_model, data, runs_dir):
    result = ftui(
        "train",
        "--model",
        str(tiny_model),
        "--data",
        str(data),
        *FAST,
        "--max-steps",
        "400",
        "--save-steps",
        "2",
        "--detach",
        "--json",
    )
    run = find_run(json.loads(result.stdout)["run_id"])
    wait_for(run.last_checkpoint, what="a first checkpoint")
    pid = run.read_status().pid
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not _alive(pid), what="the process to die")
    assert run.read_status().state == "running"  # nobody has looked yet

    listed = ftui("runs", "--json")
    assert listed.returncode == 0
    (entry,) = json.loads(listed.stdout)
    assert entry["state"] == "failed"
    assert "ended without saving its state" in entry["error"] and "ftui resume" in entry["error"]
    assert run.read_status().state == "failed"  # written back, so every reader agrees
    assert run.read_status().log_tail


def test_kill_command_ends_the_run_at_once(tiny_model, data, runs_dir):
    result = ftui(
        "train",
        "--model",
        str(tiny_model),
        "--data",
        str(data),
        *FAST,
        "--max-steps",
        "400",
        "--detach",
        "--json",
    )
    run = find_run(json.loads(result.stdout)["run_id"])
    wait_for(lambda: train_steps(run), what="training to start")
    pid = run.read_status().pid
    killed = ftui("kill", run.run_id, "--json")
    assert killed.returncode == 0, killed.stderr
    assert json.loads(killed.stdout)["state"] == "failed"
    assert "Killed with `ftui kill`" in run.status().error
    wait_for(lambda: not _alive(pid), timeout=120, what="the process to die")


def test_skip_bad_rows_trains_on_the_rest(tiny_model, runs_dir, tmp_path):
    # Also the interpreter the user names (python = "..."): here, this one by its full path.
    bad = write_jsonl(
        tmp_path / "bad.jsonl", arithmetic_rows(20), raw_lines={7: '{"messages": [{"role": "user"'}
    )
    result = ftui(
        "train",
        "--model",
        str(tiny_model),
        "--data",
        str(bad),
        *FAST,
        "--max-steps",
        "3",
        "--skip-bad-rows",
        "--python",
        sys.executable,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "are skipped: line 7" in result.stderr
    (run,) = [RunDirectory(p) for p in runs_dir.iterdir()]
    assert run.status().state == "completed" and len(train_steps(run)) == 3
    config = RunConfig.read(run.config_path)
    assert config.settings.skip_bad_rows and config.python == sys.executable
    assert run.status().command[0] == sys.executable


def test_a_row_that_went_bad_after_the_preflight_fails_the_run_naming_it(
    tiny_model, data, runs_dir, tmp_path
):
    """The trainer checks too: a file changed between the preflight and the training names its line."""
    from ftui.core.runs import create_run, start, wait_until_final

    bad = write_jsonl(
        tmp_path / "bad.jsonl", arithmetic_rows(20), raw_lines={7: '{"messages": [{"role": "user"'}
    )
    config = RunConfig(model=str(tiny_model), data=str(bad), template="chatml")
    run = create_run(config, runs_dir)
    start(run).wait(timeout=240)
    status = wait_until_final(run, timeout=60)
    assert status.state == "failed" and "line 7" in status.error.lower()
    assert not run.adapter_dir.exists() and not train_steps(run)  # it failed before loading the model


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_two_processes_under_torchrun_log_each_step_once_from_rank_zero(tiny_model, data, runs_dir):
    # `--gpus 0,1` launches torchrun with a process per GPU; without GPUs the same launch runs two CPU
    # processes (gloo), which exercises the launch, the rank-0-only metrics and the shared stop/save path.
    result = ftui(
        "train",
        "--model",
        str(tiny_model),
        "--data",
        str(data),
        *FAST,
        "--max-steps",
        "6",
        "--gpus",
        "0,1",
        "--runs-dir",
        str(runs_dir),
        "--json",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    run = find_run(summary["run_id"], runs_dir)
    status = run.read_status()
    assert status.state == "completed"
    assert "ftui.trainer.launch" in status.command and "--nproc-per-node=2" in status.command
    assert status.sharding == "ddp" and status.stack.startswith("unsloth 2026.10.9 (DDP)")
    assert [(r.rank, r.state) for r in status.ranks] == [(0, "completed"), (1, "completed")]
    assert [r.step for r in train_steps(run)] == list(range(1, 7))  # once each: rank 1 writes nothing
    assert (run.adapter_dir / "adapter_config.json").exists()
    assert run.log_path.read_text().count("[ftui] device:") == 2  # both ranks started
