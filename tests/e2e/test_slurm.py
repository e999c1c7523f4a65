"""Slurm for real: a private one-host Slurm (tests/helpers/slurm_cluster.py), and `ftui train --slurm`
submitting a two-task CPU job through sbatch, followed to its end: srun starts ftui's torchrun launcher
in each task, the two meet at the c10d rendezvous as two machines would, and train sharded."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from ftui.core.runs import find_run
from ftui.core.runs.records import TrainRecord
from tests.e2e.test_train import FAST, ftui, wait_for
from tests.helpers.datasets import arithmetic_rows, write_jsonl
from tests.helpers.slurm_cluster import start_cluster, why_not
from tests.helpers.tiny_model import tiny_llama_for_session

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slurm():
    reason = why_not()
    if reason:
        pytest.skip(reason)
    # Not under pytest's temporary folder: munged wants every folder above its socket open to all.
    root = Path(tempfile.mkdtemp(prefix="ftui-slurm-"))
    root.chmod(0o755)
    try:
        cluster = start_cluster(root / "cluster")
    except RuntimeError as error:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"the test Slurm cannot start here: {error}")
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_llama_for_session(tmp_path_factory)


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "arithmetic.jsonl", arithmetic_rows(120))


def test_train_with_slurm_submits_a_two_task_job_and_follows_it_to_the_end(slurm, tiny, rows, runs_dir):
    env = {**slurm.env, "OMP_NUM_THREADS": "1"}
    result = ftui(
        "train", "--model", str(tiny), "--data", str(rows), *FAST, "--max-steps", "6",
        "--slurm", "--nodes", "2", "--sharding", "fsdp",
        # one machine with two tasks: each task is a "machine" to torchrun
        "--slurm-option=--nodes=1", "--slurm-option=--ntasks-per-node=2", "--json",
        env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["state"] == "completed", summary["error"]
    # The run has ended; its job ends a moment later, when both launchers have returned.
    assert summary["slurm_job_id"] and summary["slurm_state"] in ("RUNNING", "COMPLETING", "COMPLETED")
    assert summary["sharding"] == "fsdp" and summary["world_size"] == 2 and summary["nodes"] == 2
    assert "Submitted" in result.stderr and f"as job {summary['slurm_job_id']}" in result.stderr
    run = find_run(summary["run_id"], runs_dir)
    script = (run.path / "slurm.sbatch").read_text()
    assert "#SBATCH --ntasks-per-node=2" in script and "srun --kill-on-bad-exit=1" in script
    assert (run.path / f"slurm-{summary['slurm_job_id']}.out").is_file()
    nodes_done = lambda: all(n.state == "completed" for n in run.read_status().nodes)  # noqa: E731
    wait_for(nodes_done, 120, "both launchers to end")
    status = run.read_status()
    assert status.command[:2] == ["sbatch", "--parsable"]
    assert [(n.node, n.state) for n in status.nodes] == [(0, "completed"), (1, "completed")]
    assert [r.step for r in run.metrics() if isinstance(r, TrainRecord)] == list(range(1, 7))
    assert (run.path / "train-node1.log").read_text().count("[ftui] device:") == 1
    assert (run.adapter_dir / "adapter_model.safetensors").is_file()

    def job_completed() -> bool:
        shown = json.loads(ftui("runs", run.run_id, "--json", env=env).stdout)
        return shown["slurm_state"] == "COMPLETED"

    wait_for(job_completed, 120, "Slurm to see the job completed")
    listing = ftui("runs", env=env)
    assert "completed (slurm COMPLETED)" in listing.stdout
