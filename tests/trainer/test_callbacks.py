"""The metrics callback on its own, fed what the Trainer feeds it (a state, the raw log dict)."""

import json
import math
from types import SimpleNamespace

import pytest

from ftui.core.run_config import RunConfig
from ftui.core.runs import create_run


@pytest.fixture(scope="module")
def callbacks():
    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()
    from ftui.trainer import callbacks

    return callbacks


def state(step, tokens=0, world_zero=True):
    return SimpleNamespace(
        global_step=step,
        max_steps=10,
        epoch=step / 10,
        is_world_process_zero=world_zero,
        num_input_tokens_seen=tokens,
    )


def test_records_tokens_per_second_eval_and_summary(callbacks, runs_dir):
    run = create_run(RunConfig(model="m", data="d"), runs_dir)
    metrics = callbacks.MetricsCallback(run, callbacks.GpuMemory())
    now = [100.0]  # the callback's clock, stepped by the test: a loaded machine's own time cannot leak in
    metrics.clock = lambda: now[0]
    args = SimpleNamespace(learning_rate=1e-3, output_dir=str(run.checkpoints_dir))
    metrics.on_train_begin(args, state(0), None)
    assert run.read_status().state == "running"
    metrics.on_log(args, state(1, 1000), None, logs={"loss": 2.5, "grad_norm": 1.0, "learning_rate": 1e-3})
    now[0] += 0.5  # the next step takes half a second
    metrics.on_log(args, state(2, 2000), None, logs={"loss": 2.0, "grad_norm": 0.9, "learning_rate": 1e-3})
    metrics.on_log(args, state(2, 2000), None, logs={"eval_loss": 2.1, "train_runtime": 3.0})
    metrics.on_log(args, state(2, 2000), None, logs={"train_runtime": 3.0, "train_loss": 2.2})
    records = run.metrics()
    assert [type(r).__name__ for r in records] == [
        "TrainRecord",
        "TrainRecord",
        "EvalRecord",
        "SummaryRecord",
    ]
    assert [json.loads(line)["kind"] for line in run.metrics_path.read_text().splitlines()] == [
        "train",
        "train",
        "eval",
        "summary",
    ]  # the file's own words, as README documents them
    assert records[0].tokens_per_second is None  # the first step holds the warm-up
    assert records[1].tokens_per_second == 2000
    assert records[2].eval_loss == 2.1 and records[3].train_loss == 2.2
    assert records[1].gpu_mem_gib is None  # no GPU on this machine


def test_nan_loss_is_a_warning_not_a_crash(callbacks, runs_dir):
    run = create_run(RunConfig(model="m", data="d"), runs_dir)
    metrics = callbacks.MetricsCallback(run, callbacks.GpuMemory())
    args = SimpleNamespace(learning_rate=5.0, output_dir=str(run.checkpoints_dir))
    metrics.on_train_begin(args, state(0), None)
    for step in (1, 2):
        metrics.on_log(args, state(step, step * 10), None, logs={"loss": math.nan, "learning_rate": 5.0})
    lines = run.metrics_path.read_text().splitlines()
    assert all("NaN" not in line for line in lines)  # valid JSON for every reader
    record = json.loads(lines[0])
    assert (
        record["loss"] is None and "The loss is nan at step 1: lower the learning rate" in record["warning"]
    )
    assert run.read_status().warnings == [record["warning"]]  # said once in the status


def test_other_ranks_write_nothing(callbacks, runs_dir):
    run = create_run(RunConfig(model="m", data="d"), runs_dir)
    metrics = callbacks.MetricsCallback(run, callbacks.GpuMemory())
    metrics.on_log(
        SimpleNamespace(learning_rate=1e-3), state(1, 5, world_zero=False), None, logs={"loss": 1.0}
    )
    assert run.metrics() == []


def test_a_resumed_run_marks_where_it_picked_up(callbacks, runs_dir):
    run = create_run(RunConfig(model="m", data="d"), runs_dir)
    metrics = callbacks.MetricsCallback(run, callbacks.GpuMemory())
    metrics.on_train_begin(SimpleNamespace(), state(6), None)
    (record,) = run.metrics()
    assert type(record).__name__ == "ResumeRecord" and (record.step, record.max_steps) == (6, 10)
