"""TrainerCallbacks: metrics.jsonl and status.json from inside the Trainer, and the graceful stop.

Metrics come from `on_log` (raw floats, the step and max_steps), never from parsing stdout, whose
format changes between transformers releases. Only the main process (rank 0) writes.
"""

from __future__ import annotations

import math
import time
from typing import Any

from transformers import TrainerCallback

from ftui.core.runs.directory import RunDirectory
from ftui.core.runs.records import EvalRecord, MetricRecord, ResumeRecord, SummaryRecord, TrainRecord, now_iso
from ftui.trainer.signals import GracefulStop

GIB = 1024**3
_STATUS_EVERY_S = 2.0  # status.json is rewritten at most this often during training


def stop_asked_in_file(run: RunDirectory | None) -> bool:
    """`ftui stop` on any machine writes stop_requested_at (and signals what it can reach): a run on
    other machines, or under Slurm, stops through the file."""
    if run is None:
        return False
    try:
        return run.read_status().stop_requested_at is not None
    except Exception:  # a status being replaced: ask again at the next step
        return False


def stop_agreed(stop: GracefulStop, run: RunDirectory | None, main: bool) -> bool:
    """Whether to stop, decided the same on every rank (rank 0 also reads the file). Every rank must stop
    at the same point, or the next collective waits forever."""
    requested = stop.requested or (main and stop_asked_in_file(run))
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        import torch

        device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else None
        flag = torch.tensor([1 if requested else 0], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        requested = bool(flag.item())
    if requested:
        stop.requested = True
    return requested


class StopCallback(TrainerCallback):
    """At the end of each step: stop (with a checkpoint) if a stop was asked for, on every rank at once."""

    def __init__(self, stop: GracefulStop, run: RunDirectory | None = None):
        self.stop = stop
        self.run = run

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if stop_agreed(self.stop, self.run, state.is_world_process_zero):
            control.should_save = True
            control.should_training_stop = True
        return control


class GpuMemory:
    """GPU memory in GiB: what torch holds, and the driver-level use NVML sees (what decides an OOM)."""

    def __init__(self) -> None:
        self.peak_gib = 0.0
        self._handle = None
        try:
            import torch

            self.cuda = torch.cuda.is_available()
        except Exception:
            self.cuda = False
        if self.cuda:
            try:
                import pynvml

                pynvml.nvmlInit()
                import torch

                index = torch.cuda.current_device()
                # NVML numbers GPUs as the driver does; CUDA_VISIBLE_DEVICES renumbers them for torch.
                uuid = str(torch.cuda.get_device_properties(index).uuid)
                for i in range(pynvml.nvmlDeviceGetCount()):
                    handle = pynvml.nvmlDeviceGetHandleByIndex(i)
                    found = pynvml.nvmlDeviceGetUUID(handle)
                    found = found.decode() if isinstance(found, bytes) else found
                    if found.replace("GPU-", "") == uuid.replace("GPU-", ""):
                        self._handle = handle
                        break
            except Exception:
                self._handle = None

    def read(self) -> dict[str, float | None]:
        """{"gpu_mem_gib": ..., "gpu_peak_gib": ...}: the fields every metric record carries."""
        if not self.cuda:
            return {"gpu_mem_gib": None, "gpu_peak_gib": None}
        import torch

        reserved = torch.cuda.memory_reserved() / GIB
        used = reserved
        if self._handle is not None:
            try:
                import pynvml

                used = pynvml.nvmlDeviceGetMemoryInfo(self._handle).used / GIB
            except Exception:
                pass
        self.peak_gib = max(self.peak_gib, used, torch.cuda.max_memory_reserved() / GIB)
        return {"gpu_mem_gib": round(used, 3), "gpu_peak_gib": round(self.peak_gib, 3)}


def _clean(value: Any) -> float | None:
    """A logged number as a record holds it: NaN and infinities become null (the record's warning says
    what happened); anything that is not a number is left out."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


class MetricsCallback(TrainerCallback):
    """One JSON object per log line in metrics.jsonl; status.json kept current (step, checkpoint)."""

    def __init__(self, run: RunDirectory, memory: GpuMemory):
        self.run = run
        self.memory = memory
        self.clock = time.monotonic  # what tokens per second is timed by (a test steps its own)
        self.last_time: float | None = None
        self.last_tokens: float | None = None
        self.last_status = 0.0
        self.warned_nan = False
        self.warnings: list[str] = []

    def _write(self, record: MetricRecord) -> None:
        self.run.append_record(record)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.last_time = self.clock()
        self.last_tokens = None
        if state.is_world_process_zero and state.global_step > 0:
            # Resumed: records after this step from the earlier attempt are superseded by the new ones.
            self._write(
                ResumeRecord(time=round(time.time(), 3), step=state.global_step, max_steps=state.max_steps)
            )
        if state.is_world_process_zero:
            self.run.update_status(
                state="running",
                phase="training",
                step=state.global_step,
                max_steps=state.max_steps,
                training_started_at=now_iso(),
            )

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        now = self.clock()
        common: dict[str, Any] = {
            "time": round(time.time(), 3),
            "step": state.global_step,
            "max_steps": state.max_steps,
            "epoch": _clean(logs.get("epoch", state.epoch)),
            **self.memory.read(),
        }
        record: MetricRecord
        if "train_loss" in logs:  # the Trainer's summary at the end (train_runtime is in every log here)
            record = SummaryRecord(
                **common,
                train_runtime=_clean(logs.get("train_runtime")),
                train_loss=_clean(logs.get("train_loss")),
                train_samples_per_second=_clean(logs.get("train_samples_per_second")),
                train_steps_per_second=_clean(logs.get("train_steps_per_second")),
            )
        elif "eval_loss" in logs:
            record = EvalRecord(**common, eval_loss=_clean(logs["eval_loss"]))
        else:
            # The Trainer's own count (include_num_input_tokens_seen): Unsloth's GPU trainer does not log
            # TRL's num_tokens. Both count every input token of every rank.
            tokens = state.num_input_tokens_seen or logs.get("num_tokens")
            tokens_per_second = None  # the first step after a (re)start includes warm-up
            if (
                tokens is not None
                and self.last_tokens is not None
                and self.last_time is not None
                and now > self.last_time
            ):
                tokens_per_second = round((tokens - self.last_tokens) / (now - self.last_time), 1)
            if tokens is not None:
                self.last_tokens = tokens
            self.last_time = now
            loss = logs.get("loss")
            warning = None
            if isinstance(loss, float) and not math.isfinite(loss):
                warning = (
                    f"The loss is {loss} at step {state.global_step}: lower the learning rate "
                    f"(now {logs.get('learning_rate', args.learning_rate):.2e}) or train in bf16 instead of fp16."
                )
                if not self.warned_nan:
                    self.warned_nan = True
                    self.warnings.append(warning)
                    self.run.update_status(warnings=list(self.warnings))
            record = TrainRecord(
                **common,
                loss=_clean(loss),
                grad_norm=_clean(logs.get("grad_norm")),
                learning_rate=_clean(logs.get("learning_rate")),
                tokens_per_second=tokens_per_second,
                num_tokens=_clean(tokens),
                warning=warning,
            )
        self._write(record)
        if time.monotonic() - self.last_status > _STATUS_EVERY_S:
            self.last_status = time.monotonic()
            self.run.update_status(
                step=state.global_step, max_steps=state.max_steps, peak_gpu_gib=common.get("gpu_peak_gib")
            )

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            checkpoint = f"{args.output_dir}/checkpoint-{state.global_step}"
            self.run.update_status(last_checkpoint=checkpoint, step=state.global_step)
