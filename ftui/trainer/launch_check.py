"""The launch check: before the model loads, every rank proves the launch works, in seconds.

  1. every rank says where it is (host, GPUs) through torchrun's store: a rank without the GPU it needs is
     named, on every rank, before any collective can hang on it;
  2. the process group the training uses is made (NCCL on GPUs, gloo on CPUs), with the run's bounded
     collective timeout (collective_timeout_s);
  3. on a separate group with a short timeout: one all-reduce across every rank (the sum must be right),
     then two forward/backward steps of a tiny model under DDP, whose gradients must agree on every rank,
     and for a sharded run the all-gather and reduce-scatter that FSDP2 lives on.

A failure is a LaunchCheckFailed with one sentence naming the cause (which rank, which host, what the
backend said). Without this, the same faults surface minutes later, as a hang in model loading.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import socket

from ftui.core.errors import UserError
from ftui.trainer.ranks import Rank

CHECK_TIMEOUT_S = 60  # the check's own collectives; training uses collective_timeout_s


class LaunchCheckFailed(UserError):
    """The launch check failed; the message says which rank and why."""


def _where(me: Rank, host: str | None = None) -> str:
    return f"rank {me.rank} on {host or socket.gethostname()} (node {me.node}, local rank {me.local_rank})"


def _exchange(me: Rank, info: dict[str, object], timeout_s: int) -> list[dict[str, object]]:
    """Every rank's `info`, through the store torchrun's agent serves (no process group needed yet)."""
    import torch.distributed as dist

    # As torch's env:// does: torchrun's agent serves the store, unless sharing it is turned off, when
    # rank 0 serves it (multi-tenant, so that the process group made next reuses the same server).
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        world_size=me.world,
        is_master=me.rank == 0 and not agent_store,
        timeout=_dt.timedelta(seconds=timeout_s),
        multi_tenant=True,
    )
    attempt = (
        f"{os.environ.get('TORCHELASTIC_RUN_ID', 'run')}/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}"
    )
    prefix = f"ftui/launch-check/{attempt}"
    store.set(f"{prefix}/{me.rank}", json.dumps(info))
    keys = [f"{prefix}/{r}" for r in range(me.world)]
    try:
        store.wait(keys, _dt.timedelta(seconds=timeout_s))
    except Exception:
        missing = [r for r in range(me.world) if not store.check([f"{prefix}/{r}"])]
        raise LaunchCheckFailed(
            f"The launch check waited {timeout_s} s for rank(s) {', '.join(map(str, missing))} to start; "
            "they died or hang while starting Python: see their machine's log."
        ) from None
    return [json.loads(store.get(key)) for key in keys]


def _check_gpus(me: Rank, everyone: list[dict[str, object]]) -> None:
    """Each rank's GPU, decided the same on every rank: if any rank has CUDA, every rank needs its GPU."""
    if not any(info["cuda"] for info in everyone):
        return
    for rank, info in enumerate(everyone):
        local_rank, devices = int(str(info["local_rank"])), int(str(info["devices"]))
        who = Rank(rank=rank, world=me.world, local_rank=local_rank, node=int(str(info["node"])))
        if not info["cuda"]:
            raise LaunchCheckFailed(
                f"A GPU is missing: {_where(who, str(info['host']))} has no GPU torch can use while the "
                "other ranks train on GPUs; check its driver and CUDA_VISIBLE_DEVICES, or run the same "
                "number of GPUs on every machine."
            )
        if local_rank >= devices:
            raise LaunchCheckFailed(
                f"A GPU is missing: {_where(who, str(info['host']))} needs cuda:{info['local_rank']}, but "
                f"that machine shows {info['devices']} GPU(s) (CUDA_VISIBLE_DEVICES="
                f"{info['visible'] or 'unset'}); give --gpus as many GPUs as that machine has."
            )


def check_launch(
    me: Rank, *, collective_timeout_s: int, sharded: bool, timeout_s: int = CHECK_TIMEOUT_S
) -> str:
    """Run the check; return the backend ("nccl" or "gloo"). Leaves the default process group made."""
    import torch
    import torch.distributed as dist

    cuda = torch.cuda.is_available()
    info = {
        "host": socket.gethostname(),
        "node": me.node,
        "local_rank": me.local_rank,
        "cuda": cuda,
        "devices": torch.cuda.device_count() if cuda else 0,
        "visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
    everyone = _exchange(me, info, timeout_s)
    _check_gpus(me, everyone)
    backend = "nccl" if cuda else "gloo"
    device = torch.device("cuda", me.local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    group = None
    try:
        if not dist.is_initialized():
            dist.init_process_group(backend=backend, timeout=_dt.timedelta(seconds=collective_timeout_s))
        group = dist.new_group(backend=backend, timeout=_dt.timedelta(seconds=timeout_s))
        _collectives(me, group, device, timeout_s, sharded)
        _two_steps(me, group, device, timeout_s)
    except LaunchCheckFailed:
        raise
    except Exception as error:
        # "[enforce fail at .../device.cc:84] ifa != nullptr. Unable to find ...": the words, not the place
        text = re.sub(r"\[enforce fail at [^\]]*\]\s*", "", " ".join(str(error).split()))[:240].rstrip(".")
        raise LaunchCheckFailed(
            f"The launch check failed on {_where(me)}: {backend} said {type(error).__name__}: {text}; "
            + (
                "check that the machines reach each other on the network NCCL uses (NCCL_SOCKET_IFNAME, "
                "firewall) and NCCL_DEBUG=INFO in the log."
                if backend == "nccl"
                else "check that the machines reach each other (GLOO_SOCKET_IFNAME, firewall)."
            )
        ) from error
    finally:
        if group is not None:
            dist.destroy_process_group(group)
    return backend


def _wait(work, timeout_s: int) -> None:
    work.wait(_dt.timedelta(seconds=timeout_s))


def _collectives(me: Rank, group, device, timeout_s: int, sharded: bool) -> None:
    import torch
    import torch.distributed as dist

    value = torch.tensor([float(me.rank + 1)], device=device)
    _wait(dist.all_reduce(value, group=group, async_op=True), timeout_s)
    expected = me.world * (me.world + 1) / 2
    if abs(float(value.item()) - expected) > 1e-3:
        raise LaunchCheckFailed(
            f"The launch check's all-reduce gave {value.item():g} on {_where(me)} instead of {expected:g}: "
            "the backend corrupts data; check the GPUs' interconnect (NCCL_P2P_DISABLE=1 to test)."
        )
    if sharded:  # what FSDP2 does every step: gather the shards, scatter the reduced gradients
        shard = torch.full((4,), float(me.rank), device=device)
        gathered = torch.empty(4 * me.world, device=device)
        _wait(dist.all_gather_into_tensor(gathered, shard, group=group, async_op=True), timeout_s)
        reduced = torch.empty(4, device=device)
        _wait(dist.reduce_scatter_tensor(reduced, gathered, group=group, async_op=True), timeout_s)


def _two_steps(me: Rank, group, device, timeout_s: int) -> None:
    """Two forward/backward steps of a tiny model under DDP: the gradients must come out the same on
    every rank, which proves the gradient all-reduce the training depends on."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1)).to(device)
    ddp = DistributedDataParallel(
        model, process_group=group, device_ids=[device.index] if device.type == "cuda" else None
    )
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(me.rank)  # each rank its own data, as in training
    for _ in range(2):
        inputs = torch.randn(8, 16, generator=generator).to(device)
        loss = ddp(inputs).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    checksum = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().reshape(1)
    low, high = checksum.clone(), checksum.clone()
    _wait(dist.all_reduce(low, op=dist.ReduceOp.MIN, group=group, async_op=True), timeout_s)
    _wait(dist.all_reduce(high, op=dist.ReduceOp.MAX, group=group, async_op=True), timeout_s)
    if not torch.isfinite(checksum).all() or float(high - low) > 1e-6 * max(1.0, abs(float(high))):
        raise LaunchCheckFailed(
            f"The launch check's two training steps left different weights on the ranks ({_where(me)}): "
            "gradients are not averaged; check the backend and the GPUs' interconnect."
        )
