"""A run on several GPUs or machines, in a few lines: what trains and how the model is spread (and why),
each machine, and each rank with its GPU's peak and, on this host while it trains, the GPU's memory now.

Everything comes from status.json (ftui.core.runs.records: RunStatus.nodes and .ranks, written by each
node's launcher and each rank); the memory now comes from the app's own NVML reading (the run view's VRAM
gauge), never from a guess: without a GPU here, only what the run wrote is shown. Pure: tests call
`spread_lines` with a RunStatus and get the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from rich.text import Text

from ftui.core.runs.records import FINAL_STATES, RankStatus, RunStatus
from ftui.widgets.plain_text import one_line

MAX_RANKS = 8  # rank lines shown; the rest are counted by state (failed ranks are always shown)
SHARDING_WORDS = {"fsdp": "sharded (FSDP)", "ddp": "a model copy per GPU (DDP)"}
STATE_STYLE = {
    "waiting": "yellow",
    "starting": "yellow",
    "checking": "yellow",
    "running": "green",
    "completed": "green",
    "stopped": "yellow",
    "failed": "bold red",
    "oom": "bold red",
}
_CUDA = re.compile(r"cuda:(\d+)")


def is_spread(status: RunStatus | None) -> bool:
    """More than one training process: the run view shows the panel."""
    return status is not None and (status.world_size or 1) > 1


def rank_gpu(rank: RankStatus, gpus: Sequence[int] = ()) -> int | None:
    """The GPU a rank trains on, numbered as this machine numbers them (the gauge's index): its local rank
    (the trainer makes cuda:LOCAL_RANK current), through the run's CUDA_VISIBLE_DEVICES (settings.gpus)."""
    local = rank.local_rank
    if local is None and rank.device:
        found = _CUDA.search(rank.device)
        local = int(found[1]) if found else None
    if local is None:
        return None
    return gpus[local] if local < len(gpus) else local


def _host_of(rank: RankStatus, status: RunStatus) -> str | None:
    if rank.host:
        return rank.host
    for node in status.nodes:
        if node.node == rank.node and node.host:
            return node.host
    return status.host if (status.node_count or 1) == 1 else None


def _rank_line(
    rank: RankStatus,
    status: RunStatus,
    *,
    here: str | None,
    live_gib: Mapping[int, float] | None,
    gpus: Sequence[int],
) -> Text:
    failed = rank.rank == status.failed_rank
    text = Text(end="")
    text.append("✗ " if failed else "  ", "bold red")
    text.append(f"rank {rank.rank}", "bold")
    if rank.node is not None:
        text.append(f"  node {rank.node}")
    if rank.device:
        # The trainer's "NVIDIA H200 (140 GiB), rank 1 of 2 on cuda:1": the card is the run's (the head line
        # names it); the device is what tells ranks apart.
        cuda = _CUDA.search(rank.device)
        text.append(f"  {cuda[0] if cuda else one_line(rank.device, 40)}", "dim")
    text.append("  ")
    text.append(one_line(rank.state, 12), STATE_STYLE.get(rank.state, ""))
    if failed:
        text.append(" (ended the run)", "red")
    if rank.peak_gpu_gib is not None:
        text.append(f"  peak {rank.peak_gpu_gib:.1f} GiB")
    training_here = (
        status.is_live
        and rank.state not in FINAL_STATES
        and here is not None
        and _host_of(rank, status) == here
    )
    if training_here and live_gib:
        gpu = rank_gpu(rank, gpus)
        if gpu is not None and gpu in live_gib:
            text.append(f"  now {live_gib[gpu]:.1f} GiB on GPU {gpu}", "cyan")
    if rank.state in ("failed", "oom"):
        why = rank.error or (
            f"killed by {rank.signal}"
            if rank.signal
            else f"exit code {rank.exit_code}"
            if rank.exit_code is not None
            else ""
        )
        if why:
            text.append(f": {one_line(why, 160)}", "red")
        if rank.collective:
            text.append(" (another rank went away)", "dim")
    return text


def spread_lines(
    status: RunStatus,
    *,
    here: str | None = None,
    live_gib: Mapping[int, float] | None = None,
    gpus: Sequence[int] = (),
    max_ranks: int = MAX_RANKS,
) -> Text:
    """The panel's text for a run of several processes (empty for one process).

    here: this machine's host name (ranks on it may show their GPU's memory now); live_gib: this
    machine's GPUs' used memory by index, from NVML, or None without it; gpus: the run's settings.gpus."""
    text = Text(end="")
    if not is_spread(status):
        return text
    nodes = status.node_count or max(1, len(status.nodes))
    text.append("Spread ", "bold")
    text.append(f"{status.world_size} ranks on {nodes} {'machine' if nodes == 1 else 'machines'}")
    if status.stack:
        text.append(f", {one_line(status.stack, 40)}")
    if status.sharding:
        text.append(f", {SHARDING_WORDS.get(status.sharding, one_line(status.sharding, 20))}")
    if status.slurm_job_id:
        text.append(
            f"; Slurm job {one_line(status.slurm_job_id, 20)} {one_line(status.slurm_state or '?', 20)}"
        )
    if status.sharding_reason:
        text.append("\n  ")
        text.append(one_line(status.sharding_reason, 240), "dim")
    if status.nodes:  # the machines on one line: "node K host state" each
        text.append("\n  ")
        for position, node in enumerate(sorted(status.nodes, key=lambda n: n.node)):
            if position:
                text.append(" · ", "dim")
            text.append(f"node {node.node}", "bold")
            text.append(f" {one_line(node.host or '?', 40)} ")
            text.append(one_line(node.state, 12), STATE_STYLE.get(node.state, ""))
            if node.error:
                text.append(f": {one_line(node.error, 160)}", "red")
    ranks = sorted(status.ranks, key=lambda r: r.rank)
    shown = [r for r in ranks if r.rank == status.failed_rank or r.state in ("failed", "oom")]
    shown += [r for r in ranks if r not in shown][: max(0, max_ranks - len(shown))]
    for rank in sorted(shown, key=lambda r: r.rank):
        text.append("\n")
        text.append_text(_rank_line(rank, status, here=here, live_gib=live_gib, gpus=gpus))
    rest = [r for r in ranks if r not in shown]
    if rest:
        counts: dict[str, int] = {}
        for rank in rest:
            counts[rank.state] = counts.get(rank.state, 0) + 1
        text.append("\n  ")
        text.append(
            f"… {len(rest)} more ranks: " + ", ".join(f"{n} {one_line(s, 12)}" for s, n in counts.items()),
            "dim",
        )
    elif not ranks:
        text.append("\n  ")
        text.append("No rank has reported yet.", "dim")
    return text
