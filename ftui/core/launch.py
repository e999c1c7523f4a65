"""How a run's training processes start, on existing engines only: one process; PyTorch's torchrun on
one machine; torchrun on several machines joined by its c10d rendezvous; or Slurm (ftui.core.slurm),
whose srun starts the same torchrun on each node.

Every launch of several processes is the same command on every machine:

    python -m ftui.trainer.launch RUN_DIR --node K -- <torchrun's own flags>

ftui.trainer.launch is torchrun itself (torch.distributed.run, its parser and elastic agent, run in
process) with ftui's bookkeeping around it: the machine is recorded in status.json before it joins, and
when torchrun ends badly the run says which machine never joined or which rank died (`explain_failure`).

The sharding is decided once, where the run starts (`plan_launch`), and recorded in status.json; a
machine that joins later reads it from there, so that every rank trains the same way. Core module: no
torch, nothing heavy at import time.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ftui.core.errors import UsageError
from ftui.core.plan import SHARDING, TrainingSettings

if TYPE_CHECKING:  # pragma: no cover
    from ftui.core.run_config import RunConfig
    from ftui.core.runs.directory import RunDirectory
    from ftui.core.runs.records import RunStatus

DEFAULT_RDZV_PORT = 29400
PORT_SPREAD = 600  # runs get ports 29400-29999 by their id, so that two runs on one head do not collide
STACK = "unsloth"


def validate_launch(s: TrainingSettings, *, source: str = "the config") -> None:
    """The launch settings of a config, each mistake one sentence (RunConfig.validate calls this)."""
    if s.sharding not in SHARDING:
        raise UsageError(f"{source}: sharding {s.sharding!r} is not one of {', '.join(SHARDING)}.")
    if s.nodes < 1:
        raise UsageError(f"{source}: nodes must be at least 1, not {s.nodes}.")
    for key in ("join_timeout_s", "collective_timeout_s"):
        value = getattr(s, key)
        if value < 1:
            raise UsageError(f"{source}: {key} must be at least 1 second, not {value}.")
    if s.rdzv_endpoint is not None:
        parse_endpoint(s.rdzv_endpoint, source=source)
    for option in s.slurm_options:
        if not option.startswith("-") or "\n" in option:
            raise UsageError(
                f"{source}: slurm option {option!r} is not an sbatch option; write it as sbatch takes it, "
                "e.g. --partition=gpu or --time=04:00:00."
            )


def parse_endpoint(text: str, *, source: str = "--rdzv-endpoint") -> tuple[str, int]:
    """'host:port' (or 'host', which takes the default port) -> (host, port)."""
    host, _, port = text.strip().rpartition(":") if ":" in text else (text.strip(), "", "")
    if not host or (port and not port.isdigit()) or (port and not 0 < int(port) < 65536):
        raise UsageError(
            f"{source}: {text!r} is not HOST:PORT; give the machine that made the run and a free port, "
            f"e.g. node0:{DEFAULT_RDZV_PORT}."
        )
    return host, int(port) if port else DEFAULT_RDZV_PORT


def default_port(run_id: str) -> int:
    return DEFAULT_RDZV_PORT + zlib.crc32(run_id.encode()) % PORT_SPREAD


def processes_per_node(settings: TrainingSettings) -> int:
    """Training processes on each machine: one per GPU listed in --gpus, else one."""
    return max(1, len(settings.gpus))


def is_distributed(settings: TrainingSettings) -> bool:
    return settings.nodes > 1 or processes_per_node(settings) > 1


def world_size(settings: TrainingSettings) -> int:
    return settings.nodes * processes_per_node(settings)


# ----- the sharding --------------------------------------------------------------------------------
@dataclass(frozen=True)
class LaunchPlan:
    """How the run's processes are laid out and how the model is spread over them."""

    nodes: int
    per_node: int  # training processes on each machine
    sharding: str | None  # "ddp" | "fsdp"; None for one process
    reason: str  # why that sharding, in words

    @property
    def world_size(self) -> int:
        return self.nodes * self.per_node


def _model_dims(config: RunConfig):  # -> ModelDims | None
    """The model's dims from its local config.json or the catalog; None when neither has them (a Hub id
    not in the cache is not fetched here: the launch must not wait on the network)."""
    from ftui.core.catalog import load_catalog
    from ftui.core.dims import dims_from_hf_config

    for candidate in (config.load_repo, config.model):
        path = Path(candidate).expanduser()
        config_json = path / "config.json" if path.is_dir() else None
        if config_json is not None and config_json.is_file():
            import json

            try:
                return dims_from_hf_config(json.loads(config_json.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                return None
    try:
        model = load_catalog().find(config.model)
    except Exception:  # the catalog is advice: a broken one must not stop a launch
        return None
    return model.dims if model is not None else None


def _gpu_memory(settings: TrainingSettings) -> tuple[float | None, str | None]:
    """(GiB, name) of the smallest of this machine's GPUs the run will use; (None, None) without any."""
    try:
        from ftui.core.hardware import probe

        gpus = probe(processes=False).gpus
    except Exception:  # no NVML, no driver: nothing to compare with
        return None, None
    chosen = [g for g in gpus if g.index in settings.gpus] or gpus
    if not chosen:
        return None, None
    smallest = min(chosen, key=lambda g: g.memory_total_gib)
    return smallest.memory_total_gib, smallest.name


def plan_launch(config: RunConfig, *, vram_gib: float | None = None, card: str | None = None) -> LaunchPlan:
    """The layout and the sharding: as asked (--sharding ddp|fsdp), else by the estimate against this
    machine's GPUs (or `vram_gib`): DDP when a whole copy fits each GPU, else sharded (ftui.core.sharding)."""
    s = config.settings
    nodes, per_node = s.nodes, processes_per_node(s)
    if nodes * per_node == 1:
        return LaunchPlan(1, 1, None, "One process.")
    if s.sharding in ("ddp", "fsdp"):
        from ftui.core.sharding import WAY_WORDS

        words = WAY_WORDS[s.sharding]
        return LaunchPlan(
            nodes, per_node, s.sharding, f"{words[0].upper()}{words[1:]}, as asked (--sharding {s.sharding})."
        )
    if vram_gib is None:
        vram_gib, card = _gpu_memory(s)
    dims = _model_dims(config)
    if dims is None:
        return LaunchPlan(
            nodes,
            per_node,
            "ddp",
            f"DDP (a whole model copy per GPU): ftui has no dims for {config.model} to estimate with; "
            "pass --sharding fsdp when it does not fit one GPU.",
        )
    if vram_gib is None:
        return LaunchPlan(
            nodes,
            per_node,
            "ddp",
            "DDP (a whole model copy per GPU): no GPU is visible here to compare the estimate with; pass "
            "--sharding fsdp when the model does not fit one GPU.",
        )
    from ftui.core.sharding import choose_way

    choice = choose_way(dims, s, nodes * per_node, vram_gib, card=card)
    return LaunchPlan(nodes, per_node, choice.way, choice.reason)


def sharding_environment(sharding: str | None, method: str) -> dict[str, str]:
    """What makes Unsloth train the chosen way. DDP is its default under torchrun; FSDP is its native
    FSDP2 with everything sharded (its "fit" layout would keep frozen weights whole on each GPU, which is
    what a model that does not fit one GPU cannot afford), the optimizer checkpointed shard by shard
    (torch.distributed.checkpoint), and a 16-bit model read shard by shard."""
    if sharding != "fsdp":
        return {}
    env = {
        "UNSLOTH_FSDP2": "1",
        "UNSLOTH_FSDP2_LAYOUT": "sharded",
        "UNSLOTH_FSDP2_DCP_OPTIM": "1",
    }
    if method != "qlora":  # Unsloth reads 4-bit checkpoints whole on every rank, then shards them
        env["UNSLOTH_FSDP2_SHARDED_LOAD"] = "1"
    return env


def node_environment(
    config: RunConfig, plan: LaunchPlan | None = None, *, base: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of a node's launcher (its training processes inherit it)."""
    plan = plan or plan_launch(config)
    env = dict(os.environ if base is None else base)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if config.settings.gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in config.settings.gpus)
    if config.python:
        # Another interpreter finds this ftui's trainer through PYTHONPATH (it needs unsloth, not ftui).
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    if plan.sharding:
        env.update(sharding_environment(plan.sharding, config.settings.method))
        env["FTUI_SHARDING"] = plan.sharding
        env["FTUI_SHARDING_REASON"] = plan.reason
    return env


# ----- the command lines ------------------------------------------------------------------------
def rendezvous_endpoint(settings: TrainingSettings, run_id: str) -> str:
    """host:port where the machines meet: --rdzv-endpoint, else this machine (node 0) and the run's port."""
    if settings.rdzv_endpoint:
        host, port = parse_endpoint(settings.rdzv_endpoint)
        return f"{host}:{port}"
    return f"{socket.gethostname()}:{default_port(run_id)}"


def torchrun_flags(settings: TrainingSettings, run_id: str, *, endpoint: str | None = None) -> list[str]:
    """torchrun's own flags: --standalone on one machine; on several, the c10d rendezvous at `endpoint`
    with a bounded wait for the others. No restarts: a failed rank fails the run, which says why."""
    per_node = processes_per_node(settings)
    if settings.nodes == 1:
        return ["--standalone", f"--nproc-per-node={per_node}", "--max-restarts=0"]
    return [
        f"--nnodes={settings.nodes}",
        f"--nproc-per-node={per_node}",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint={endpoint or rendezvous_endpoint(settings, run_id)}",
        f"--rdzv-id={run_id}",
        f"--rdzv-conf=join_timeout={settings.join_timeout_s}",
        "--max-restarts=0",
    ]


def python_of(config: RunConfig) -> str:
    return config.python or sys.executable


def node_command(
    config: RunConfig,
    run: RunDirectory,
    *,
    node: int = 0,
    resume: bool = False,
    log: str | None = None,
    endpoint: str | None = None,
) -> list[str]:
    """The command that starts one machine's part of a run: the trainer itself for one process, else
    ftui's torchrun launcher."""
    python = python_of(config)
    if not is_distributed(config.settings):
        return [python, "-m", "ftui.trainer", str(run.path)] + (["--resume"] if resume else [])
    command = [python, "-m", "ftui.trainer.launch", str(run.path), f"--node={node}"]
    if resume:
        command.append("--resume")
    if log:
        command.append(f"--log={log}")
    return command + ["--", *torchrun_flags(config.settings, run.run_id, endpoint=endpoint)]


def node_log(node: int) -> str:
    """The file in the run folder where a node's processes write: train.log for node 0 (the one `ftui
    runs` and the run view show), train-node<K>.log for the others (one writer per file, also on NFS)."""
    return "train.log" if node == 0 else f"train-node{node}.log"


def join_command(run: RunDirectory, node: int) -> str:
    """What to type on machine `node` to join a run on several machines (the run folder is shared)."""
    return f"ftui train --join {shlex.quote(str(run.path))} --node {node}"


# ----- why a launch failed ------------------------------------------------------------------------
LAUNCH_CHECK_WORDS = (
    "The launch check",
    "A GPU is missing",
)  # how ftui.trainer.launch_check's sentences begin
_BENIGN_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP")  # what a launcher sends the others when one failed


def _root_cause(status: RunStatus):  # -> RankStatus | None
    """The rank whose end brought the run down: one killed by a signal nobody sent on purpose, then one
    that failed on its own (not in a collective that another rank's end broke), then the earliest."""
    failed = [r for r in status.ranks if r.state in ("failed", "oom") or r.exit_code not in (None, 0)]
    if not failed:
        return None

    def key(rank):
        killed = rank.signal is not None and rank.signal not in _BENIGN_SIGNALS
        own = rank.error is not None and not rank.collective
        return (not killed, not own, rank.failed_at or float("inf"), rank.rank)

    return min(failed, key=key)


def rank_failure_sentence(
    status: RunStatus,
    *,
    resume_hint: str = "",
    collective_timeout_s: int | None = None,
    step: int | None = None,
) -> tuple[int | None, str | None]:
    """(rank, sentence) for a run whose ranks failed: which rank, where, how, and what to do."""
    rank = _root_cause(status)
    if rank is None:
        return None, None
    where = f"rank {rank.rank}"
    if rank.host:
        where += f" on {rank.host}"
    if rank.node is not None and (status.node_count or 1) > 1:
        where += f" (node {rank.node})"
    if rank.pid:
        where += f", pid {rank.pid}"
    step_now = max(step or 0, status.step or 0)
    at_step = f" at step {step_now}" if step_now else ""
    if rank.signal and rank.signal not in _BENIGN_SIGNALS:
        how = {
            "SIGKILL": "was killed (SIGKILL: the kernel's out-of-memory killer, `kill -9`, or the scheduler)",
            "SIGABRT": "aborted (SIGABRT; NCCL's watchdog does this when a collective waits longer than "
            f"collective_timeout_s = {collective_timeout_s or '?'} s)",
            "SIGSEGV": "crashed (SIGSEGV)",
            "SIGBUS": "crashed (SIGBUS)",
        }.get(rank.signal, f"was ended by {rank.signal}")
        sentence = f"Training failed: {where} {how}{at_step}, and the other ranks stopped with it"
        if rank.error:
            sentence += f" (its last word: {rank.error.rstrip('.')})"
    elif rank.error and rank.error.startswith(LAUNCH_CHECK_WORDS):
        sentence = rank.error  # the launch check names the rank and the host itself
    elif rank.error:
        sentence = f"Training failed on {where}{at_step}: {rank.error.rstrip('.')}"
    else:
        sentence = f"Training failed: {where} exited with code {rank.exit_code}{at_step}; see its log"
    return rank.rank, sentence.rstrip(".") + "." + resume_hint


def never_joined_sentence(status: RunStatus, endpoint: str, timeout_s: int, run: RunDirectory) -> str:
    """A rendezvous that timed out: which machines never joined (by their ftui node number), and how to
    start them."""
    expected = range(status.node_count or 1)
    seen = {n.node: n for n in status.nodes}
    missing = [k for k in expected if k not in seen]
    joined = ", ".join(f"node {n.node} on {n.host}" for n in sorted(seen.values(), key=lambda n: n.node))
    if missing:
        names = " and ".join(f"node {k}" for k in missing)
        starts = "; ".join(f"`{join_command(run, k)}`" for k in missing)
        return (
            f"{names.capitalize()} never joined the rendezvous at {endpoint} within {timeout_s} s "
            f"({joined or 'no node'} did); start it on its machine with {starts}, or check that it can "
            f"reach {endpoint}."
        )
    late = [n for n in seen.values() if n.state == "waiting"]
    names = ", ".join(f"node {n.node} on {n.host}" for n in late) or "a node"
    return (
        f"The machines did not meet at {endpoint} within {timeout_s} s although every node started "
        f"({names} was still waiting); check that each can reach {endpoint} (firewall, the host name)."
    )


# ----- joining a run from another machine ---------------------------------------------------------
def rendezvous_of(status: RunStatus) -> str | None:
    """Where the run's machines meet: recorded by node 0's launcher, else read off its command line."""
    if status.rendezvous:
        return status.rendezvous
    for part in status.command or []:
        if part.startswith("--rdzv-endpoint="):
            return part.split("=", 1)[1]
    return None


def join(run: RunDirectory, node: int, *, gpus: tuple[int, ...] | None = None):  # -> subprocess.Popen
    """Start machine `node`'s part of a run that node 0 started (`ftui train --join RUN --node K`), detached
    as `ftui train` starts node 0: its own session, output to its log in the run folder. `gpus` picks this
    machine's GPUs (as many as node 0 uses)."""
    import dataclasses
    import subprocess

    from ftui.core.errors import UserError
    from ftui.core.runs.process import check_python
    from ftui.core.runs.records import now_iso

    status = run.status()
    config = run.config()
    s = config.settings
    if s.nodes < 2:
        raise UserError(
            f"Run {run.run_id} runs on one machine (nodes = 1); there is nothing to join. Start a run on "
            "several with `ftui train ... --nodes N`."
        )
    if not 1 <= node < s.nodes:
        raise UsageError(
            f"--node must be 1 to {s.nodes - 1} for run {run.run_id} (node 0 is the machine that made it)."
        )
    if not status.is_live:
        raise UserError(
            f"Run {run.run_id} is {status.state}; there is nothing to join. `ftui resume {run.run_id}` on node 0 "
            "starts it again, then join it."
        )
    for entry in status.nodes:
        if entry.node == node and entry.state in ("waiting", "running"):
            alive = _alive_here(entry.pid) if entry.host == socket.gethostname() else None
            if alive is not False:
                raise UserError(
                    f"Node {node} of run {run.run_id} is already running on {entry.host} (pid {entry.pid}); "
                    f"join as another node, or follow it with `ftui runs {run.run_id} --follow`."
                )
    if gpus is not None:
        if len(gpus) != processes_per_node(s):
            raise UsageError(
                f"--gpus lists {len(gpus)} GPU(s) but every machine of run {run.run_id} runs "
                f"{processes_per_node(s)} process(es); list that many."
            )
        config = dataclasses.replace(config, settings=dataclasses.replace(s, gpus=gpus))
    check_python(config)
    endpoint = rendezvous_of(status)
    if endpoint is None:
        raise UserError(
            f"Run {run.run_id} does not say where its machines meet yet; wait until node 0 has started "
            "(`ftui runs` shows it running) and join again."
        )
    log = node_log(node)
    command = node_command(
        config, run, node=node, resume=status.resumed_from is not None, log=log, endpoint=endpoint
    )
    plan = LaunchPlan(s.nodes, processes_per_node(s), None, "")  # the launcher reads node 0's sharding
    env = node_environment(config, plan)
    with open(run.path / log, "ab") as handle:
        handle.write(f"[ftui] {now_iso()} joining as node {node}: {' '.join(command)}\n".encode())
        handle.flush()
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=run.path,
            start_new_session=True,
            close_fds=True,
        )


def _alive_here(pid: int | None) -> bool:
    """Whether process `pid` of this machine is there (a zombie is not)."""
    if not pid:
        return False
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
