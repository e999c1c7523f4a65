"""A run on several GPUs and machines in the run view: how it is spread and why, each machine, each rank
(its GPU's peak, the error of the one that failed), and on this host while it trains, its GPU's memory now.

The runs are real run directories: write_run's files, and the spread written through RunDirectory's own
update_status, as the launchers and ranks write it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ftui.app import FtuiApp
from ftui.core.runs import RunDirectory
from ftui.core.runs.records import NodeStatus, RankStatus
from ftui.widgets.run_spread import rank_gpu, spread_lines
from ftui.widgets.run_view import RunView
from tests.fakes.nvml import GIB, FakeNvml, h200
from tests.tui.conftest import fixed_hardware, text_of, wait_for_text, wait_until, write_run

REASON = (
    "QLoRA needs about 31.2 GiB on each GPU with a whole copy, more than the 24.0 GiB of one RTX 4090; "
    "sharded over 2 (Unsloth's FSDP2) about 19.8 GiB each: fits on 2 with sharding."
)
OOM = "CUDA out of memory on rank 1: lower the batch or the sequence length."


def spread_run(runs: Path, run_id: str, *, here: str = "gpu-a", state: str = "failed", **run) -> RunDirectory:
    """A run of two ranks on two machines: rank 0 on `here` (node 0), rank 1 on gpu-b (node 1); failed,
    rank 1 ran out of memory and ended it. Live (state running), both still train."""
    path = write_run(runs, run_id, state=state, model="Qwen/Qwen2.5-32B-Instruct", **run)
    directory = RunDirectory(path)
    failed = state == "failed"
    directory.update_status(
        world_size=2,
        stack="unsloth 2026.10.9",
        sharding="fsdp",
        sharding_reason=REASON,
        node_count=2,
        nodes=[
            NodeStatus(node=0, host=here, state="failed" if failed else "running"),
            NodeStatus(node=1, host="gpu-b", state="failed" if failed else "running"),
        ],
        ranks=[
            RankStatus(
                rank=0,
                node=0,
                local_rank=0,
                host=here,
                device="NVIDIA RTX 4090 (24 GiB), rank 0 of 2 on cuda:0",
                state="stopped" if failed else "running",
                peak_gpu_gib=19.5 if failed else None,
            ),
            RankStatus(
                rank=1,
                node=1,
                local_rank=0,
                host="gpu-b",
                device="NVIDIA RTX 4090 (24 GiB), rank 1 of 2 on cuda:0",
                state="oom" if failed else "running",
                peak_gpu_gib=23.9 if failed else None,
                error=OOM if failed else None,
            ),
        ],
        failed_rank=1 if failed else None,
        error="Training failed: rank 1 on gpu-b (node 1) ran out of GPU memory." if failed else None,
    )
    return directory


def test_the_panel_says_how_the_run_is_spread_and_which_rank_failed(tmp_path):
    status = spread_run(tmp_path / "runs", "20260105-100000-qwen2.5-32b").status()
    lines = spread_lines(status, here="gpu-a", live_gib={0: 12.0}).plain.splitlines()
    assert lines[0] == "Spread 2 ranks on 2 machines, unsloth 2026.10.9, sharded (FSDP)"
    assert lines[1].strip() == REASON
    assert lines[2] == "  node 0 gpu-a failed · node 1 gpu-b failed"
    assert lines[3] == "  rank 0  node 0  cuda:0  stopped  peak 19.5 GiB"
    assert lines[4] == f"✗ rank 1  node 1  cuda:0  oom (ended the run)  peak 23.9 GiB: {OOM}"
    assert len(lines) == 5
    assert "now" not in "\n".join(lines)  # an ended run has no memory now, whatever NVML reads


def test_a_rank_trains_on_the_gpu_its_local_rank_picks_from_the_runs_gpus():
    rank = RankStatus(rank=3, local_rank=1, device="NVIDIA H200 (140 GiB), rank 3 of 4 on cuda:1")
    assert rank_gpu(rank) == 1
    assert rank_gpu(rank, gpus=(2, 3)) == 3  # CUDA_VISIBLE_DEVICES=2,3: its cuda:1 is GPU 3 here
    assert rank_gpu(RankStatus(rank=0, device="NVIDIA H200 (140 GiB), rank 0 of 2 on cuda:1")) == 1
    assert rank_gpu(RankStatus(rank=0, device="CPU")) is None


def test_many_ranks_are_counted_and_a_failed_one_is_always_shown(tmp_path):
    run = RunDirectory(write_run(tmp_path / "runs", "20260105-100000-many", state="failed"))
    ranks = [RankStatus(rank=n, node=n // 8, state="stopped") for n in range(16)]
    ranks[13] = RankStatus(rank=13, node=1, state="failed", signal="SIGKILL")
    run.update_status(world_size=16, node_count=2, ranks=ranks, failed_rank=13)
    text = spread_lines(run.status(), max_ranks=4).plain
    assert "✗ rank 13  node 1  failed (ended the run): killed by SIGKILL" in text
    assert [line.split()[1] for line in text.splitlines() if line.startswith("  rank")] == ["0", "1", "2"]
    assert text.splitlines()[-1].strip() == "… 12 more ranks: 12 stopped"


async def attach(app, pilot, run_id: str) -> RunView:  # type: ignore[no-untyped-def]
    table = app.screen.query_one("#runs-table")
    await wait_until(pilot, lambda: table.row_count == 1, "the run in the runs table")
    await pilot.press("enter")
    assert app.current_step == "train"
    view = app.screen.query_one(RunView)
    assert view.run is not None and view.run.run_id == run_id
    return view


async def test_the_run_view_of_a_failed_run_on_two_machines_shows_its_ranks(make_app, tmp_path):
    spread_run(tmp_path / "runs", "20260105-100000-qwen2.5-32b")
    app = make_app(gpus=0, start="runs")  # no GPU here: only what status.json says
    async with app.run_test(size=(80, 24)) as pilot:
        await attach(app, pilot, "20260105-100000-qwen2.5-32b")
        panel = await wait_for_text(app, pilot, "#run-spread", "ended the run")
        assert "Spread 2 ranks on 2 machines, unsloth 2026.10.9, sharded (FSDP)" in panel
        assert "fits on 2 with sharding" in " ".join(panel.split())
        assert "node 0 gpu-a failed · node 1 gpu-b failed" in panel
        assert "✗ rank 1  node 1" in panel and "CUDA out of memory on rank 1" in panel
        assert "now" not in panel
        # Progress and loss still come from the metrics rank 0 writes.
        progress = await wait_for_text(app, pilot, "#run-progress", "step 15/30")
        assert "loss" in progress
        assert app.screen.query_one("#run-spread").display


async def test_a_one_process_run_has_no_panel(make_app, tmp_path):
    write_run(tmp_path / "runs", "20260105-100000-qwen3-8b")
    app = make_app(gpus=0, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await attach(app, pilot, "20260105-100000-qwen3-8b")
        await wait_for_text(app, pilot, "#run-progress", "step 30/30")
        assert not app.screen.query_one("#run-spread").display


async def test_a_live_rank_on_this_host_shows_its_gpus_memory_now(tmp_path):
    runs = tmp_path / "runs"
    here = socket.gethostname()
    spread_run(runs, "20260105-100000-live", here=here, state="running", pid=os.getpid())
    # The stand-in for this machine's driver (it has no GPU): GPU 0, rank 0's, holds 21.5 GiB now.
    nvml = FakeNvml([h200(0, memory_used=int(21.5 * GIB)), h200(1, memory_used=3 * GIB)])
    app = FtuiApp(
        hardware=fixed_hardware(nvml, runs), nvml=nvml, gauge_interval=3600, runs_dir=runs, start="runs"
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await attach(app, pilot, "20260105-100000-live")
        panel = await wait_for_text(app, pilot, "#run-spread", "now 21.5 GiB on GPU 0")
        rank0, rank1 = (line for line in panel.splitlines() if "rank " in line)
        assert "running" in rank0 and "now 21.5 GiB on GPU 0" in rank0
        assert "running" in rank1 and "now" not in rank1  # on gpu-b: this machine's NVML cannot see it
        assert text_of(app.screen.query_one("#run-spread")).count("now") == 1
