"""One run's directory: its files, read and written through the typed records (records.py).

A run lives in `<runs>/<run-id>/`:
  config.toml    everything needed to reproduce it (RunConfig)
  status.json    RunStatus (records.py)
  metrics.jsonl  metric records, one per line (records.py)
  train.log      the training process's stdout and stderr (a file, never a pipe: it outlives ftui)
  checkpoints/   the Trainer's checkpoints (resume starts from the last one)
  adapter/       the LoRA adapter and tokenizer (model/ for full fine-tuning)
  samples.jsonl  generations on held-out prompts after training (records.Sample)
  trainer.lock   held (flock) by the training process for as long as it lives

Every reader goes through RunDirectory: the CLI, the TUI, the tests. No Textual here, nothing heavy at
import time. Process control is in process.py, following a run in follow.py.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from ftui.core.errors import UserError
from ftui.core.run_config import RunConfig
from ftui.core.runs import records
from ftui.core.runs.records import MetricRecord, ResumeRecord, RunStatus, Sample, SummaryRecord, now_iso
from ftui.core.text import mask_secrets, strip_control, unfinished_secret

MAX_STATUS_BYTES = 1 << 20  # a status.json larger than this is damage, not a status
# A run whose status.json is missing this long after its folder was made is not being created any more.
CREATE_GRACE_S = 120.0


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside status.json, so the runner and the trainer never lose each other's update."""
    try:
        import fcntl
    except ModuleNotFoundError:  # pragma: no cover - not on Linux/macOS
        yield
        return
    try:
        handle = open(path.with_name(path.name + ".lock"), "a")
    except OSError:  # a read-only run folder: nothing can be written there, so nothing to serialise
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary name, then rename over the file: a reader sees the old or the new, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise UserError(
            f"Cannot write {path} ({error.strerror or error}); free some disk space or fix the folder's permissions."
        ) from None


def read_regular_file(path: Path, limit: int) -> bytes | None:
    """The bytes of a regular file of at most `limit` bytes; None when it is missing. Anything else (a
    FIFO, a device, a folder, an oversized file) raises ValueError: a reader must never block on a pipe."""
    try:
        with open(path, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NONBLOCK)) as handle:
            info = os.fstat(handle.fileno())
            import stat

            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"{path.name} is not a regular file")
            if info.st_size > limit:
                raise ValueError(f"{path.name} is {info.st_size} bytes, more than a run's file can be")
            return handle.read(limit + 1)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ValueError(f"{path.name} is a folder") from None


@dataclass(frozen=True)
class RunDirectory:
    """One run's directory. `path` is absolute (runs are found and created with resolved paths)."""

    path: Path

    # ----- the files -----------------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def log_path(self) -> Path:
        return self.path / "train.log"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def trainer_lock_path(self) -> Path:
        return self.path / "trainer.lock"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def adapter_dir(self) -> Path:
        return self.path / "adapter"

    @property
    def model_dir(self) -> Path:  # full fine-tuning saves the whole model here
        return self.path / "model"

    @property
    def samples_path(self) -> Path:
        return self.path / "samples.jsonl"

    def exists(self) -> bool:
        return self.config_path.is_file()

    def config(self) -> RunConfig:
        return RunConfig.read(self.config_path)

    # ----- status --------------------------------------------------------------------------------
    def read_status(self) -> RunStatus:
        """status.json as written, without checking the process (`status()` does that). A missing or
        damaged file is reported as a status that says so, never as an exception: the state then comes
        from what else the folder holds (see `_recovered_status`)."""
        try:
            data = read_regular_file(self.status_path, MAX_STATUS_BYTES)
        except (OSError, ValueError) as error:
            return self._recovered_status(f"{self.status_path.name} is unreadable ({error})")
        if data is None:
            return self._recovered_status(None)
        try:
            status = records.decode_status(data)
        except records.UNREADABLE:
            return self._recovered_status(f"{self.status_path.name} is damaged")
        if status.run_id != self.run_id:
            status = msgspec.structs.replace(status, run_id=self.run_id)
        if status.error or status.log_tail:
            # Written by a process that may have printed a token before it died: masked for every reader.
            status = msgspec.structs.replace(
                status,
                error=mask_secrets(status.error) if status.error else status.error,
                log_tail=[mask_secrets(line) for line in status.log_tail]
                if status.log_tail
                else status.log_tail,
            )
        return status

    def _recovered_status(self, damage: str | None) -> RunStatus:
        """What the folder says when status.json does not: a run whose training finished is completed
        whatever became of its status; a live trainer holds trainer.lock; a folder just made is starting."""
        finished = self.finished()
        if finished:
            return RunStatus(
                run_id=self.run_id,
                state="completed",
                output=self._saved_output(),
                warnings=[f"{damage or 'status.json is missing'}; the run finished ({finished})."],
            )
        holder = self.trainer_holder()
        if holder is not None:
            return RunStatus(run_id=self.run_id, state="running", trainer_pid=holder or None)
        if damage is None and self._age_s() < CREATE_GRACE_S:
            return RunStatus(run_id=self.run_id, state="starting")
        checkpoint = self.last_checkpoint()
        resume = (
            f"; `ftui resume {self.run_id}` continues from {checkpoint.name}"
            if checkpoint
            else f"; `ftui resume {self.run_id}` starts it again"
        )
        return RunStatus(
            run_id=self.run_id,
            state="failed",
            error=f"{damage or 'status.json is missing'} and no trainer is running{resume}.",
        )

    def _age_s(self) -> float:
        try:
            return time.time() - self.config_path.stat().st_mtime
        except OSError:
            return float("inf")

    def _saved_output(self) -> str | None:
        for folder in (self.adapter_dir, self.model_dir):
            if folder.is_dir():
                return str(folder)
        return None

    def write_status(self, status: RunStatus) -> None:
        write_atomic(self.status_path, records.encode_status(status))

    def update_status(self, **changes: object) -> RunStatus:
        """Merge `changes` (RunStatus fields) into status.json under the lock; returns the new status."""
        with self.locked():
            return self.update_status_locked(**changes)

    def update_status_locked(self, **changes: object) -> RunStatus:
        """update_status for a caller that holds `locked()` already."""
        status = msgspec.structs.replace(self.read_status(), **changes)  # an unknown field is a TypeError
        status = msgspec.structs.replace(status, run_id=self.run_id, updated_at=now_iso())
        self.write_status(status)
        return status

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the status lock: reading, deciding and writing the status as one step."""
        with _locked(self.status_path):
            yield

    def status(self) -> RunStatus:
        """The status, with a dead training process noticed (process.py): a live state whose process is
        gone becomes failed, with the end of train.log, written back so that every reader agrees."""
        from ftui.core.runs.process import reconcile

        status: RunStatus = reconcile(self)
        return status

    def is_live(self) -> bool:
        return self.status().is_live

    # ----- evidence beyond status.json ------------------------------------------------------------
    def trainer_holder(self) -> int | None:
        """The pid written by the training process that holds trainer.lock now (0 when it wrote none);
        None when no training process holds it."""
        try:
            import fcntl
        except ModuleNotFoundError:  # pragma: no cover
            return None
        try:
            handle = open(self.trainer_lock_path, "rb")
        except OSError:
            return None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = handle.read(32).decode("ascii", "replace").strip()
                return int(text) if text.isdigit() else 0
            fcntl.flock(handle, fcntl.LOCK_UN)
            return None

    def hold_trainer_lock(self, wait_s: float = 5.0):  # -> an open file, or None
        """Take trainer.lock for the life of this process (the kernel lets go when it exits, however it
        exits) and write our pid into it. None when another training process holds it. Readers take the
        lock for a moment to test it, so a busy lock is retried for `wait_s` before giving up."""
        import fcntl

        handle = open(self.trainer_lock_path, "a+b")
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    return None
                time.sleep(0.05)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()).encode())
        handle.flush()
        return handle

    def finished(self) -> str | None:
        """Why this run's training is known to have ended at its last step, from more than status.json:
        the Trainer's summary record (after the latest resume), or a checkpoint at the final step.
        None when neither says so."""
        summary_seen = False
        for record in self.metrics():
            if isinstance(record, ResumeRecord):
                summary_seen = False
            elif isinstance(record, SummaryRecord):
                # A stopped run gets a summary too, at the step it stopped at.
                summary_seen = bool(record.max_steps) and record.step >= (record.max_steps or 0)
        if summary_seen:
            return "its metrics end with the Trainer's summary at the final step"
        checkpoint = self.last_checkpoint()
        if checkpoint is not None:
            try:
                state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
                step, total = int(state["global_step"]), int(state["max_steps"])
            except (OSError, ValueError, KeyError, TypeError):
                return None
            if total > 0 and step >= total:
                return f"its checkpoint {checkpoint.name} is at the final step, {step} of {total}"
        return None

    def last_checkpoint(self) -> Path | None:
        """The checkpoint with the highest step that the Trainer finished writing."""
        best: tuple[int, Path] | None = None
        with contextlib.suppress(OSError):
            for child in self.checkpoints_dir.iterdir():
                match = re.fullmatch(r"checkpoint-(\d+)", child.name)
                if match and (child / "trainer_state.json").is_file():
                    step = int(match.group(1))
                    if best is None or step > best[0]:
                        best = (step, child)
        return best[1] if best else None

    # ----- reading the streams from any offset ----------------------------------------------------
    def read_log(self, offset: int = 0, max_bytes: int = 1 << 20) -> tuple[str, int]:
        """Text of train.log from byte `offset` (at most max_bytes) and the offset to read from next."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(offset)
                data = handle.read(max_bytes)
        except (FileNotFoundError, IsADirectoryError):
            return "", offset
        # A character cut in half at the end is left for the next read, not shown as garbage.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = decoder.decode(data, final=False)
        pending = len(decoder.getstate()[0])
        if data and pending == len(data) and len(data) >= max_bytes:  # max_bytes smaller than one character
            return mask_secrets(data.decode("utf-8", errors="replace")), offset + len(data)
        # So is what could be the start of an HF token still being written: it is masked once whole.
        held = unfinished_secret(text)
        if held and (len(text) > held or len(data) < max_bytes):  # a full read of a fragment moves on
            pending += len(text[-held:].encode("utf-8"))
            text = text[:-held]
        return mask_secrets(text), offset + len(data) - pending

    def read_metrics(self, offset: int = 0) -> tuple[list[MetricRecord], int]:
        """Complete records of metrics.jsonl from byte `offset`; a half-written last line waits for the
        next call (the offset returned stops before it); a line that is not a record is skipped."""
        try:
            with open(self.metrics_path, "rb") as handle:
                handle.seek(offset)
                data = handle.read()
        except (FileNotFoundError, IsADirectoryError):
            return [], offset
        end = data.rfind(b"\n") + 1
        found: list[MetricRecord] = []
        for line in data[:end].splitlines():
            if line.strip():
                record = records.decode_record(line)
                if record is not None:
                    found.append(record)
        return found, offset + end

    def metrics(self) -> list[MetricRecord]:
        return self.read_metrics(0)[0]

    def append_record(self, record: MetricRecord) -> None:
        """Add a line to metrics.jsonl (the trainer, rank 0, is the only writer)."""
        with open(self.metrics_path, "ab") as handle:
            handle.write(records.encode_record(record))

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last lines of train.log as a terminal would show them (progress bars' \\r resolved),
        with control sequences removed."""
        try:
            size = self.log_path.stat().st_size
        except OSError:
            return []
        text, _ = self.read_log(max(0, size - 64 * 1024))
        shown = [strip_control(line.split("\r")[-1]).rstrip() for line in text.split("\n")]
        while shown and not shown[-1]:
            shown.pop()
        return shown[-lines:] if lines > 0 else []

    def samples(self) -> list[Sample]:
        try:
            data = read_regular_file(self.samples_path, 64 << 20)
        except (OSError, ValueError):
            return []
        if not data:
            return []
        return [s for s in (records.decode_sample(line) for line in data.splitlines() if line.strip()) if s]

    def write_samples(self, samples: list[Sample]) -> None:
        write_atomic(self.samples_path, b"".join(records.encode_sample(s) for s in samples))
