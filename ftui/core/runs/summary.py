"""One line's worth of a run, for `ftui runs` (and its --json) and the runs step."""

from __future__ import annotations

import msgspec

from ftui.core.errors import UserError
from ftui.core.runs.directory import RunDirectory
from ftui.core.runs.progress import Progress
from ftui.core.runs.records import RunStatus, State


class RunSummary(msgspec.Struct, kw_only=True):
    run_id: str
    path: str
    state: State
    model: str | None
    method: str | None
    name: str | None
    step: int | None
    max_steps: int | None
    loss: float | None  # the last train loss
    eval_loss: float | None  # the last eval loss
    tokens_per_second: float | None  # the last measured
    peak_gpu_gib: float | None
    created_at: str | None
    started_at: str | None
    ended_at: str | None
    pid: int | None
    last_checkpoint: str | None
    output: str | None
    error: str | None
    warnings: list[str]
    # Several processes or machines (None for one process): what trains, how the model is spread, where.
    stack: str | None = None
    sharding: str | None = None
    world_size: int | None = None
    nodes: int | None = None
    failed_rank: int | None = None
    slurm_job_id: str | None = None
    slurm_state: str | None = None  # Slurm's JobState now (PENDING, RUNNING, COMPLETED, ...)

    def to_json(self) -> dict[str, object]:
        return msgspec.to_builtins(self)


def summarize(run: RunDirectory, status: RunStatus | None = None) -> RunSummary:
    status = status or run.status()
    progress = Progress()
    for record in run.metrics():
        progress.add(record)
    model: str | None
    method: str | None
    name: str | None
    try:
        config = run.config()
        model, method, name = config.model, config.settings.method, config.name
    except UserError:
        model = method = name = None
    step = max(status.step or 0, progress.step) if (status.step is not None or progress.step) else None
    return RunSummary(
        run_id=run.run_id,
        path=str(run.path),
        state=status.state,
        model=model,
        method=method,
        name=name,
        step=step,
        max_steps=status.max_steps or progress.max_steps,
        loss=progress.loss,
        eval_loss=progress.eval_loss,
        tokens_per_second=progress.tokens_per_second,
        peak_gpu_gib=status.peak_gpu_gib if status.peak_gpu_gib is not None else progress.peak_gib,
        created_at=status.created_at,
        started_at=status.started_at,
        ended_at=status.ended_at,
        pid=status.pid,
        last_checkpoint=status.last_checkpoint,
        output=status.output,
        error=status.error,
        warnings=list(status.warnings),
        stack=status.stack,
        sharding=status.sharding,
        world_size=status.world_size,
        nodes=status.node_count,
        failed_rank=status.failed_rank,
        slurm_job_id=status.slurm_job_id,
        slurm_state=_slurm_state(status),
    )


def _slurm_state(status: RunStatus) -> str | None:
    """Slurm's word for the run's job now; the last one recorded when Slurm cannot be asked here."""
    if not status.slurm_job_id:
        return None
    from ftui.core.slurm import job_state

    return job_state(status.slurm_job_id) or status.slurm_state
