"""Slurm: a run as a batch job. `sbatch` queues it; on each node srun starts ftui's torchrun launcher
(ftui.core.launch), the nodes meet at the first node's c10d rendezvous, and every process writes into
the run folder, which must be on storage all nodes share.

The job's state (PENDING, RUNNING, COMPLETED, CANCELLED, ...) comes from Slurm itself (scontrol, else
sacct), next to ftui's own state; a job that ended without its run saying how (cancelled while queued,
out of time) marks the run failed with Slurm's word for it. Plain Python: only Slurm's own commands.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ftui.core.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from ftui.core.run_config import RunConfig
    from ftui.core.runs.directory import RunDirectory

SCRIPT_NAME = "slurm.sbatch"
LIVE_STATES = {
    "PENDING",
    "CONFIGURING",
    "RUNNING",
    "COMPLETING",
    "SUSPENDED",
    "REQUEUED",
    "REQUEUE_HOLD",
    "REQUEUE_FED",
    "RESIZING",
    "SIGNALING",
    "STAGE_OUT",
}
_STATE_CACHE_S = 2.0  # the TUI asks every second; Slurm's controller need not hear it that often
_cache: dict[str, tuple[float, str | None]] = {}
_TIMEOUT_S = 10


def sbatch_missing() -> str | None:
    """Why a run cannot go to Slurm from here (one sentence), or None."""
    if shutil.which("sbatch") is None:
        return (
            "Slurm's sbatch is not on this machine's PATH, so the run cannot be submitted from here; run "
            "it where Slurm is (a login node), or write the job with `ftui script RUN --slurm -o job.sbatch` "
            "and submit that there, or train without --slurm."
        )
    return None


def _run(command: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def job_state(job_id: str, *, fresh: bool = False) -> str | None:
    """Slurm's JobState for `job_id` (PENDING, RUNNING, COMPLETED, CANCELLED, FAILED, TIMEOUT, ...);
    None when Slurm cannot be asked or has forgotten the job."""
    now = time.monotonic()
    cached = _cache.get(job_id)
    if cached and not fresh and now - cached[0] < _STATE_CACHE_S:
        return cached[1]
    state = None
    if shutil.which("scontrol"):
        done = _run(["scontrol", "show", "job", "-o", job_id])
        if done is not None and done.returncode == 0:
            match = re.search(r"\bJobState=(\S+)", done.stdout)
            state = match.group(1) if match else None
    if state is None and shutil.which("sacct"):
        done = _run(["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State"])
        if done is not None and done.returncode == 0 and done.stdout.strip():
            state = done.stdout.split()[0].split()[0]  # "CANCELLED by 0" -> CANCELLED
    _cache[job_id] = (now, state)
    return state


def job_alive(job_id: str) -> bool | None:
    state = job_state(job_id)
    if state is None:
        return None
    return state in LIVE_STATES


def ended_sentence(job_id: str, run: RunDirectory) -> str:
    state = job_state(job_id, fresh=True) or "ended"
    checkpoint = run.last_checkpoint()
    again = (
        f"`ftui resume {run.run_id}` submits it again from {checkpoint.name}"
        if checkpoint
        else f"`ftui resume {run.run_id}` submits it again"
    )
    return (
        f"Slurm job {job_id} ended {state} before the run said how it finished (cancelled, out of time or "
        f"a node lost); see slurm-{job_id}.out in {run.path} and `sacct -j {job_id}`; {again}."
    )


# ----- the job script ----------------------------------------------------------------------------
def _has_option(options: tuple[str, ...], *names: str) -> bool:
    return any(option.split("=", 1)[0] in names for option in options)


def sbatch_script(config: RunConfig, run: RunDirectory, *, resume: bool = False) -> str:
    """The batch job for `run`: one srun task per node, each starting ftui's torchrun launcher for that
    node (as `ftui train` does on one machine), the sharding and environment ftui decided, output in
    the run folder."""
    from ftui.core import launch

    s = config.settings
    plan = launch.plan_launch(config)
    env = launch.node_environment(config, plan, base={})
    env.pop("CUDA_VISIBLE_DEVICES", None)  # Slurm gives each node its GPUs
    run_dir = str(run.path)
    options = tuple(s.slurm_options)
    lines = [
        "#!/bin/bash",
        f"# ftui run {run.run_id}: {config.model} on {config.data} ({s.method}).",
        f"# {s.nodes} node(s) x {plan.per_node} training process(es); "
        + (f"sharding: {plan.sharding}. {plan.reason}" if plan.sharding else "one process."),
        "# Written by ftui; submit it with `sbatch` (`ftui train --slurm` does). The run folder must be on",
        "# storage every node sees: each node's processes write there, rank 0 the metrics.",
        f"#SBATCH --job-name=ftui-{run.run_id[:48]}",
        f"#SBATCH --chdir={run_dir}",
        f"#SBATCH --output={run_dir}/slurm-%j.out",
    ]
    if not _has_option(options, "--nodes", "-N"):
        lines.append(f"#SBATCH --nodes={s.nodes}")
    if not _has_option(options, "--ntasks", "-n"):
        lines.append(f"#SBATCH --ntasks={s.nodes}")
    if not _has_option(options, "--ntasks-per-node"):
        lines.append("#SBATCH --ntasks-per-node=1")
    if s.gpus and not _has_option(options, "--gpus-per-node", "--gres", "--gpus", "-G"):
        lines.append(f"#SBATCH --gpus-per-node={plan.per_node}")
    lines += [f"#SBATCH {option}" for option in options]
    lines += ["", "set -euo pipefail"]
    for key in sorted(env):
        lines.append(f"export {key}={shlex.quote(env[key])}")
    port = launch.default_port(run.run_id)
    if s.rdzv_endpoint:
        endpoint_code = f"endpoint={shlex.quote(launch.rendezvous_endpoint(s, run.run_id))}"
    else:
        endpoint_code = (
            "# The nodes meet at the first node of the allocation.\n"
            f'endpoint="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1):{port}"'
        )
    flags = launch.torchrun_flags(s, run.run_id, endpoint="$endpoint")
    python = shlex.quote(launch.python_of(config))
    task = (
        f'node="$SLURM_PROCID"; log=train.log; [ "$node" = 0 ] || log="train-node$node.log"; '
        f'exec {python} -m ftui.trainer.launch {shlex.quote(run_dir)} --node="$node" --log="$log"'
        + (" --resume" if resume else "")
        + " -- "
        + " ".join(
            f.replace("$endpoint", '"$endpoint"') if "$endpoint" in f else shlex.quote(f) for f in flags
        )
    )
    lines += [
        endpoint_code,
        "export endpoint",
        "# One task per node: each runs torchrun (through ftui's launcher) for its node's GPUs.",
        f"srun --kill-on-bad-exit=1 bash -c {shlex.quote(task)}",
        "",
    ]
    return "\n".join(lines)


def write_script(config: RunConfig, run: RunDirectory, *, resume: bool = False) -> Path:
    path = run.path / SCRIPT_NAME
    path.write_text(sbatch_script(config, run, resume=resume), encoding="utf-8")
    path.chmod(0o755)
    return path


def submit(run: RunDirectory, *, resume: bool = False) -> str:
    """Write the job script into the run folder and queue it with sbatch; record the job; its id."""
    from ftui.core.runs.records import now_iso

    missing = sbatch_missing()
    if missing:
        raise UserError(missing)
    config = run.config()
    script = write_script(config, run, resume=resume)
    done = _run(["sbatch", "--parsable", str(script)])
    if done is None or done.returncode != 0:
        said = " ".join(((done.stderr or done.stdout) if done else "no answer").split())[:300]
        sentence = f"sbatch refused the job ({said}); fix the Slurm options (--slurm-option) and try again."
        run.update_status(state="failed", phase=None, error=sentence, ended_at=now_iso())
        raise UserError(sentence)
    job = done.stdout.strip().split(";")[0]
    checkpoint = run.last_checkpoint() if resume else None
    run.update_status(
        state="starting",
        phase=f"queued in Slurm as job {job}",
        slurm_job_id=job,
        slurm_state="PENDING",
        pid=None,
        pid_started=None,
        trainer_pid=None,
        host=None,
        started_at=now_iso(),
        ended_at=None,
        error=None,
        log_tail=None,
        stop_requested_at=None,
        kill_requested_at=None,
        resumed_from=str(checkpoint) if checkpoint else None,
        nodes=[],
        ranks=[],
        failed_rank=None,
        command=["sbatch", "--parsable", str(script)],
    )
    return job


def cancel(job_id: str) -> bool:
    done = _run(["scancel", job_id]) if shutil.which("scancel") else None
    return done is not None and done.returncode == 0
