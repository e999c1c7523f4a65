"""Several processes and machines, for real, on CPU: two processes under torchrun with the gloo backend,
through the same code as on GPUs (ftui's launcher, the launch check, Unsloth's native FSDP2).

Two "machines" are two torchrun launches on localhost joined by the c10d rendezvous (`--nodes 2` here,
`--join` there), sharing the run folder as machines share a network file system.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path

import psutil
import pytest

from ftui.core.runs import RunDirectory, find_run
from ftui.core.runs.records import ResumeRecord, TrainRecord, now_iso
from tests.e2e.test_train import FAST, ftui, wait_for
from tests.helpers.datasets import arithmetic_rows, write_jsonl
from tests.helpers.tiny_model import tiny_llama_for_session

pytestmark = pytest.mark.slow

# Two processes on two cores: one thread each, as torchrun sets for several processes on one machine
# (a single process per "machine" would otherwise take every core and the two would fight over them).
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return tiny_llama_for_session(tmp_path_factory)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "arithmetic.jsonl", arithmetic_rows(120))


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its parent counts as exited)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train_steps(run: RunDirectory) -> list[TrainRecord]:
    """Each step's record as the run ends up with it: a resume supersedes the records after its step."""
    by_step: dict[int, TrainRecord] = {}
    for record in run.metrics():
        if isinstance(record, ResumeRecord):
            by_step = {s: r for s, r in by_step.items() if s <= record.step}
        elif isinstance(record, TrainRecord):
            by_step[record.step] = record
    return [by_step[s] for s in sorted(by_step)]


def run_ftui_json(*args: str, timeout: float = 300) -> dict:
    result = ftui(*args, "--json", env=ONE_THREAD, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def final(run: RunDirectory, timeout: float = 300):  # type: ignore[no-untyped-def]
    return wait_for(lambda: run.status() if run.status().is_final else None, timeout, "the run to end")


def test_sharded_training_on_two_machines_stops_and_resumes_from_sharded_checkpoints(
    tiny_model, data, runs_dir
):
    endpoint = f"127.0.0.1:{free_port()}"
    started = run_ftui_json(
        "train", "--model", str(tiny_model), "--data", str(data), *FAST, "--max-steps", "16",
        "--save-steps", "4", "--nodes", "2", "--sharding", "fsdp", "--rdzv-endpoint", endpoint, "--detach",
    )  # fmt: skip
    run = find_run(started["run_id"], runs_dir)
    assert started["sharding"] == "fsdp" and "as asked" in started["sharding_reason"]
    assert started["node_commands"] == [f"ftui train --join {run.path} --node 1"]
    joined = run_ftui_json("train", "--join", str(run.path), "--node", "1", "--detach")
    assert joined["node"] == 1

    # Stop from node 0 once a sharded checkpoint exists: both machines stop at the same step, and save.
    wait_for(lambda: run.last_checkpoint() is not None and train_steps(run)[-1].step >= 5, 400, "step 5")
    stopped = run_ftui_json("stop", run.run_id, "--wait", "300")
    assert stopped["state"] == "stopped", stopped.get("error")
    status = run.read_status()
    assert status.world_size == 2 and status.node_count == 2 and status.rendezvous == endpoint
    assert status.sharding == "fsdp" and status.stack.startswith("unsloth 2026.10.9 (native FSDP2)")
    nodes_done = lambda: all(n.state not in ("waiting", "running") for n in run.read_status().nodes)  # noqa: E731
    wait_for(nodes_done, 120, "both launchers to end")
    status = run.read_status()
    assert [(n.node, n.state) for n in status.nodes] == [(0, "stopped"), (1, "stopped")]
    assert [(r.rank, r.node, r.state) for r in status.ranks] == [(0, 0, "stopped"), (1, 1, "stopped")]
    checkpoint = run.last_checkpoint()
    assert (checkpoint / "optimizer_dcp").is_dir(), "the optimizer is checkpointed shard by shard"
    assert (run.path / "train-node1.log").read_text().count("[ftui] device:") == 1
    stopped_at = train_steps(run)[-1].step

    resumed = run_ftui_json("resume", run.run_id, "--detach")
    assert resumed["resumed_from"] == str(checkpoint)
    run_ftui_json("train", "--join", str(run.path), "--node", "1", "--detach")
    status = final(run, 400)
    assert status.state == "completed", status.error
    steps = train_steps(run)
    assert [r.step for r in steps] == list(range(1, 17))  # once each, rank 0 only, across the resume
    assert any(isinstance(r, ResumeRecord) and r.step <= stopped_at for r in run.metrics())
    first, last = steps[0].loss, sum(r.loss for r in steps[-3:]) / 3
    assert last < first - 0.3, f"the loss did not fall: {first:.3f} -> {last:.3f}"
    assert (run.adapter_dir / "adapter_model.safetensors").is_file()
    wait_for(nodes_done, 120, "both launchers to end")
    assert [n.state for n in run.read_status().nodes] == ["completed", "completed"]


def test_a_machine_that_never_joins_fails_the_run_in_bounded_time_naming_it(tiny_model, data, runs_dir):
    endpoint = f"127.0.0.1:{free_port()}"
    result = ftui(
        "train", "--model", str(tiny_model), "--data", str(data), *FAST, "--max-steps", "4",
        "--nodes", "2", "--rdzv-endpoint", endpoint, "--join-timeout", "5", "--json",
        env=ONE_THREAD, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    run = find_run(summary["run_id"], runs_dir)
    assert summary["state"] == "failed"
    assert summary["error"].startswith(f"Node 1 never joined the rendezvous at {endpoint} within 5 s")
    assert f"`ftui train --join {run.path} --node 1`" in summary["error"]
    assert "Node 1 never joined" in result.stderr  # the one sentence the user sees
    status = run.read_status()
    assert [(n.node, n.state) for n in status.nodes] == [(0, "failed")]
    assert status.ranks == []  # no training process ever started


def training_on_two_ranks(tiny_model: Path, data: Path, runs_dir: Path) -> RunDirectory:
    """A long run of two processes on this machine (`--gpus 0,1`, gloo), two steps into training."""
    started = run_ftui_json(
        "train", "--model", str(tiny_model), "--data", str(data), *FAST, "--max-steps", "2000",
        "--gpus", "0,1", "--detach",
    )  # fmt: skip
    run = find_run(started["run_id"], runs_dir)
    wait_for(lambda: len(train_steps(run)) >= 2, 400, "two training steps")
    return run


def test_a_rank_that_dies_fails_the_run_and_is_named(tiny_model, data, runs_dir):
    run = training_on_two_ranks(tiny_model, data, runs_dir)
    victim = next(r for r in run.read_status().ranks if r.rank == 1)
    os.kill(victim.pid, signal.SIGKILL)
    status = wait_for(
        lambda: run.status() if run.status().failed_rank is not None else None, 120, "the verdict"
    )
    assert status.state == "failed" and status.failed_rank == 1
    assert status.error.startswith(f"Training failed: rank 1 on {socket.gethostname()}")
    assert f"pid {victim.pid} was killed (SIGKILL" in status.error
    ranks = {r.rank: r for r in status.ranks}
    assert ranks[1].signal == "SIGKILL" and ranks[1].exit_code == -9
    assert ranks[0].collective  # rank 0 only lost its peer: not the cause
    assert status.nodes[0].state == "failed"


def test_the_launch_check_fails_in_seconds_naming_the_backend_error(tiny_model, data, runs_dir):
    # A network interface that does not exist: gloo cannot connect the ranks.
    result = ftui(
        "train", "--model", str(tiny_model), "--data", str(data), *FAST, "--max-steps", "4", "--gpus", "0,1",
        "--json", env={**ONE_THREAD, "GLOO_SOCKET_IFNAME": "no-such-if0"}, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["state"] == "failed"
    assert summary["error"].startswith("The launch check failed on rank ")
    assert "gloo said RuntimeError" in summary["error"] and "no-such-if0" in summary["error"]
    assert "enforce fail" not in summary["error"]
    run = find_run(summary["run_id"], runs_dir)
    assert "Unsloth 2026.10.9" not in run.log_path.read_text()  # before the slow import (its banner)


def test_stopping_a_run_while_its_machines_meet_stops_it_at_once(tiny_model, data, runs_dir):
    started = run_ftui_json(
        "train", "--model", str(tiny_model), "--data", str(data), *FAST, "--max-steps", "4",
        "--nodes", "2", "--rdzv-endpoint", f"127.0.0.1:{free_port()}", "--join-timeout", "300", "--detach",
    )  # fmt: skip
    run = find_run(started["run_id"], runs_dir)
    wait_for(lambda: [n.state for n in run.read_status().nodes] == ["waiting"], 60, "node 0 waiting")
    launcher = run.read_status().nodes[0].pid
    stopped = run_ftui_json("stop", run.run_id, "--wait", "60")
    assert stopped["state"] == "stopped" and stopped["error"] == "Stopped before training began."
    assert [(n.node, n.state) for n in run.read_status().nodes] == [(0, "stopped")]
    wait_for(lambda: gone(launcher), 30, "the launcher to exit")


def test_kill_ends_every_rank_of_the_machine_it_runs_on(tiny_model, data, runs_dir):
    # torchrun starts each rank in a session of its own: a SIGKILL to the launcher's alone leaves rank 1.
    run = training_on_two_ranks(tiny_model, data, runs_dir)
    ranks = {r.rank: r.pid for r in run.read_status().ranks}
    assert sorted(ranks) == [0, 1]
    killed = run_ftui_json("kill", run.run_id)
    assert killed["state"] == "failed" and killed["error"].startswith("Killed with `ftui kill` at step ")
    wait_for(lambda: all(gone(pid) for pid in ranks.values()), 60, "both ranks to end")
    status = run.read_status()
    # Killed, not failed on their own: neither rank lived to write a word after the signal.
    assert [(r.rank, r.state, r.signal, r.error) for r in status.ranks] == [
        (0, "failed", "SIGKILL", "Killed with `ftui kill`."),
        (1, "failed", "SIGKILL", "Killed with `ftui kill`."),
    ]
    assert status.error == killed["error"]


def training_on_two_machines(tiny_model: Path, data: Path, runs_dir: Path) -> RunDirectory:
    """A long run on two "machines" (two torchrun launches on this host), two steps into training."""
    started = run_ftui_json(
        "train", "--model", str(tiny_model), "--data", str(data), *FAST, "--max-steps", "2000",
        "--nodes", "2", "--rdzv-endpoint", f"127.0.0.1:{free_port()}", "--detach",
    )  # fmt: skip
    run = find_run(started["run_id"], runs_dir)
    run_ftui_json("train", "--join", str(run.path), "--node", "1", "--detach")
    wait_for(lambda: len(train_steps(run)) >= 2, 400, "two training steps")
    return run


def test_kill_on_the_first_machine_ends_the_other_machines_processes(tiny_model, data, runs_dir):
    # Two "machines" on this host: node 1's processes are not ftui kill's to signal; its launcher reads
    # the kill from status.json (shared storage) and ends them.
    run = training_on_two_machines(tiny_model, data, runs_dir)
    status = run.read_status()
    node1 = [n.pid for n in status.nodes if n.node == 1] + [r.pid for r in status.ranks if r.node == 1]
    assert len(node1) == 2 and all(node1)
    killed = run_ftui_json("kill", run.run_id)
    assert killed["state"] == "failed" and killed["error"].startswith("Killed with `ftui kill` at step ")
    wait_for(lambda: all(gone(pid) for pid in node1), 60, "node 1's launcher and rank to end")

    # node 1's watcher records the machine (and its rank) after the processes it ended are gone
    def node1_recorded():  # type: ignore[no-untyped-def]
        status = run.read_status()
        return status if next(n for n in status.nodes if n.node == 1).state != "running" else None

    status = wait_for(node1_recorded, 60, "node 1 to be recorded as ended")
    nodes = {n.node: n for n in status.nodes}
    assert nodes[1].state == "failed" and nodes[1].error.startswith("Killed with `ftui kill` at ")
    # Over gloo, rank 1 may see its peer go (a collective fails) before its launcher reads the kill; over
    # NCCL it would wait for the collective timeout: either way it is ended, and the kill is the verdict.
    rank1 = next(r for r in status.ranks if r.node == 1)
    assert rank1.state == "failed" and (rank1.signal == "SIGKILL" or rank1.collective)
    assert status.error == killed["error"]  # the kill's verdict stands over what node 1 saw
    assert "Killed with `ftui kill`" in (run.path / "train-node1.log").read_text()


def test_a_kill_asked_in_the_run_folder_reaches_every_machine(tiny_model, data, runs_dir):
    # `ftui kill` on a machine with none of the run's processes can only write kill_requested_at; every
    # machine's launcher reads it (each its own, here both on this host) and ends its processes.
    run = training_on_two_machines(tiny_model, data, runs_dir)
    status = run.read_status()
    pids = [n.pid for n in status.nodes] + [r.pid for r in status.ranks]
    assert len(pids) == 4 and all(pids)
    run.update_status(kill_requested_at=now_iso())
    wait_for(lambda: all(gone(pid) for pid in pids), 60, "every launcher and rank to end")
    status = run.read_status()
    assert [(n.node, n.state) for n in status.nodes] == [(0, "failed"), (1, "failed")]
    assert all(n.error.startswith("Killed with `ftui kill` at ") for n in status.nodes)
    assert status.state == "failed" and status.error.startswith("Killed with `ftui kill` at ")
