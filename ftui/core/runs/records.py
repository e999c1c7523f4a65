"""The run directory's typed records: the one definition of what its files hold.

The training process writes them and every reader (the CLI, `follow`, the TUI's run view and runs step)
reads them through these types, never through string keys:

  status.json     RunStatus: where the run is (state, phase, step), its process, times and outcome
  metrics.jsonl   one record per line, told apart by `kind`:
                    train    a logging step: loss, grad_norm, learning_rate, tokens_per_second, ...
                    eval     an evaluation: eval_loss
                    resume   the run was resumed at `step`: earlier records of later steps are superseded
                    summary  the Trainer's summary when training ended (train_runtime, train_loss, ...)
  samples.jsonl   Sample: a greedy generation on a held-out prompt after training

Forward-compatible: a key a reader does not know is ignored, and a metrics line it cannot read (an
unknown kind from a newer ftui, a damaged line) is skipped, costing that line only. Times are ISO 8601
strings with a UTC offset (status) or Unix seconds (records). The writer runs in the training process,
possibly under the user's own interpreter: this module needs msgspec (an Unsloth dependency) and nothing
else.
"""

from __future__ import annotations

import datetime as _dt
from typing import Literal, TypeAlias

import msgspec

State: TypeAlias = Literal["starting", "running", "completed", "failed", "stopped", "oom"]
STATES: tuple[State, ...] = ("starting", "running", "completed", "failed", "stopped", "oom")
LIVE_STATES: tuple[State, ...] = ("starting", "running")
FINAL_STATES: tuple[State, ...] = ("completed", "failed", "stopped", "oom")
LIVE_RANK_STATES: tuple[str, ...] = ("starting", "checking", "running")  # RankStatus.state

# What a reader does not accept as a record: msgspec's decode and validation errors, and the recursion
# limit that deeply nested JSON reaches.
UNREADABLE = (msgspec.MsgspecError, RecursionError, ValueError)


def now_iso() -> str:
    # timezone.utc rather than datetime.UTC: the trainer may run under a user's Python 3.10.
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")  # noqa: UP017


class NodeStatus(msgspec.Struct, kw_only=True):
    """One machine of a run on several (torchrun's c10d rendezvous): its launcher, written by that launcher."""

    node: int  # ftui's number for the machine: 0 made the run, 1.. joined it (`ftui train --join`)
    host: str | None = None
    pid: int | None = None  # the node's launcher (torchrun's agent, run by `python -m ftui.trainer.launch`)
    state: str = "waiting"  # waiting (for the rendezvous) | running | completed | failed | stopped
    log: str | None = None  # the file in the run folder its processes write to
    started_at: str | None = None
    ended_at: str | None = None
    error: str | None = None


class RankStatus(msgspec.Struct, kw_only=True):
    """One training process of a run on several processes, written by that process (or by its node's
    launcher when it died without a word)."""

    rank: int
    node: int | None = None  # ftui's node number (NodeStatus.node)
    local_rank: int | None = None
    host: str | None = None
    pid: int | None = None
    device: str | None = None
    state: str = "starting"  # starting | checking (the launch) | running | completed | failed | oom | stopped
    peak_gpu_gib: float | None = None  # its GPU's peak, driver level, when it ended
    exit_code: int | None = None  # as its launcher saw it; negative: killed by that signal
    signal: str | None = None  # the signal that ended it (SIGKILL, SIGSEGV, ...)
    error: str | None = None  # its own last word, one sentence
    collective: bool = False  # the error came from another rank going away (a collective failed)
    failed_at: float | None = None  # Unix seconds


class RunStatus(msgspec.Struct, kw_only=True):
    """status.json. Written under a lock by an atomic rename, so a reader never sees half of it."""

    run_id: str = ""
    state: State = "starting"
    phase: str | None = None  # what it is doing now: "loading model", "training", "saving", ...
    pid: int | None = None  # the process ftui started; its session is what stop and kill signal
    pid_started: float | None = None  # that process's start time: a recycled pid has another
    trainer_pid: int | None = None  # the training process itself (under torchrun, rank 0)
    host: str | None = None  # the machine it runs on: another host's pid cannot be checked here
    command: list[str] | None = None
    created_at: str | None = None
    started_at: str | None = None
    training_started_at: str | None = None
    ended_at: str | None = None
    updated_at: str | None = None
    stop_requested_at: str | None = None
    # `ftui kill`: the launcher of every machine reads it and ends its own training processes at once
    # (the signal reaches only this machine's; Slurm's scancel reaches the rest under Slurm).
    kill_requested_at: str | None = None
    resumed_from: str | None = None  # the checkpoint the latest start resumed from
    data_fingerprint: str | None = None  # the dataset's size and time when the run first started
    step: int | None = None
    max_steps: int | None = None
    last_checkpoint: str | None = None
    output: str | None = None  # the adapter (or full model) folder, once saved
    device: str | None = None
    world_size: int | None = None
    # Several processes or machines (ftui.core.launch): how the model is spread, on what, and who runs.
    stack: str | None = None  # what trains: "unsloth 2026.10.9" (its native FSDP2 when sharded)
    sharding: str | None = None  # "ddp" (a model copy per GPU) | "fsdp" (sharded) | None (one process)
    sharding_reason: str | None = None  # why, in words (the estimate against the GPUs)
    node_count: int | None = None  # machines in the job (torchrun's --nnodes)
    rendezvous: str | None = None  # host:port where the machines meet (torchrun's c10d rendezvous)
    nodes: list[NodeStatus] = msgspec.field(default_factory=list)
    ranks: list[RankStatus] = msgspec.field(default_factory=list)
    failed_rank: int | None = None  # the rank whose end ended the run
    slurm_job_id: str | None = None
    slurm_state: str | None = None  # Slurm's JobState when last seen (PENDING, RUNNING, COMPLETED, ...)
    peak_gpu_gib: float | None = None
    train_loss: float | None = None
    warnings: list[str] = msgspec.field(default_factory=list)
    error: str | None = None  # for failed/oom (and damage found by a reader): one sentence with the fix
    log_tail: list[str] | None = None  # when the process died without a word: the end of train.log

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


class _Record(msgspec.Struct, kw_only=True, tag_field="kind"):
    time: float | None = None  # Unix seconds
    step: int = 0
    max_steps: int | None = None


class TrainRecord(_Record, tag="train"):
    epoch: float | None = None
    loss: float | None = None  # null when the loss was NaN or infinite (then `warning` says so)
    grad_norm: float | None = None
    learning_rate: float | None = None
    tokens_per_second: float | None = None  # null on the first step after a (re)start: it has warm-up in it
    num_tokens: float | None = None
    gpu_mem_gib: float | None = None  # driver-level use of the run's GPU now
    gpu_peak_gib: float | None = None
    warning: str | None = None


class EvalRecord(_Record, tag="eval"):
    epoch: float | None = None
    eval_loss: float | None = None
    gpu_mem_gib: float | None = None
    gpu_peak_gib: float | None = None


class ResumeRecord(_Record, tag="resume"):
    """The run was resumed at `step`: records of later steps written before this line are superseded."""


class SummaryRecord(_Record, tag="summary"):
    """The Trainer's summary at the end of training: proof that training ran to its end."""

    epoch: float | None = None
    train_runtime: float | None = None
    train_loss: float | None = None
    train_samples_per_second: float | None = None
    train_steps_per_second: float | None = None
    gpu_mem_gib: float | None = None
    gpu_peak_gib: float | None = None


MetricRecord: TypeAlias = TrainRecord | EvalRecord | ResumeRecord | SummaryRecord


class Sample(msgspec.Struct, kw_only=True):
    """samples.jsonl: a greedy generation on a held-out prompt, for the runs step's comparison."""

    line: int | None = None  # the dataset row it came from
    prompt: str = ""
    reference: str | None = None  # the row's own answer
    output: str = ""
    new_tokens: int | None = None
    # Vision runs: the row's images the prompt shows, as files the runs step can display (absolute paths;
    # images the dataset held as bytes are written under the run's samples/ folder).
    images: list[str] = msgspec.field(default_factory=list)


_status_decoder = msgspec.json.Decoder(RunStatus)
_record_decoder = msgspec.json.Decoder(MetricRecord)
_sample_decoder = msgspec.json.Decoder(Sample)
_encoder = msgspec.json.Encoder()


def decode_status(data: bytes) -> RunStatus:
    """status.json's bytes as a RunStatus; raises one of UNREADABLE when they are not one."""
    return _status_decoder.decode(data)


def encode_status(status: RunStatus) -> bytes:
    return msgspec.json.format(_encoder.encode(status), indent=2) + b"\n"


def decode_record(line: bytes) -> MetricRecord | None:
    """A metrics.jsonl line as its record; None for a line this ftui cannot read (damaged, or a kind or
    value from a newer ftui)."""
    try:
        return _record_decoder.decode(line)
    except UNREADABLE:
        return None


def encode_record(record: MetricRecord) -> bytes:
    return _encoder.encode(record) + b"\n"


def decode_sample(line: bytes) -> Sample | None:
    try:
        return _sample_decoder.decode(line)
    except UNREADABLE:
        return None


def encode_sample(sample: Sample) -> bytes:
    return _encoder.encode(sample) + b"\n"


def to_builtins(value: object) -> object:
    """A record or status as plain JSON values (for --json output)."""
    return msgspec.to_builtins(value)
