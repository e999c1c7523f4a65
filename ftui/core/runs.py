"""Run directories and the detached training process: start, list, attach, stop, kill, resume.

A run lives in `<runs>/<run-id>/`:
  config.toml    everything needed to reproduce it (RunConfig)
  train.log      the training process's stdout and stderr (a file, never a pipe: it outlives ftui)
  metrics.jsonl  one JSON object per logging step, written by the trainer's TrainerCallback
  status.json    state (starting | running | completed | failed | stopped | oom), pid, times, last
                 checkpoint, and for a failure one sentence that says what to do
  checkpoints/   the Trainer's checkpoints (resume starts from the last one)
  adapter/       the LoRA adapter and tokenizer (model/ for full fine-tuning)
  samples.jsonl  generations on held-out prompts after training, for the compare screen

The training process runs in its own session (start_new_session) with its output going to train.log,
so closing the TUI or losing the SSH connection does not stop it; any later ftui attaches to it by
reading these files. No Textual here, and nothing heavy at import time.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as _dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftui.core.errors import UserError
from ftui.core.paths import runs_dir as default_runs_dir
from ftui.core.run_config import RunConfig

STATES = ("starting", "running", "completed", "failed", "stopped", "oom")
FINAL_STATES = ("completed", "failed", "stopped", "oom")
LIVE_STATES = ("starting", "running")
# A run that never got a pid this long after it was created is taken as never started.
_START_GRACE_S = 120.0


def now_iso() -> str:
    # timezone.utc rather than datetime.UTC: the trainer may run under a user's Python 3.10.
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")  # noqa: UP017


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside status.json, so the runner and the trainer never lose each other's update."""
    try:
        import fcntl
    except ModuleNotFoundError:  # pragma: no cover - not on Linux/macOS
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True)
class RunDirectory:
    """One run's directory. Every reader goes through here: the CLI, the TUI, the tests."""

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
    def read_status(self) -> dict[str, Any]:
        """status.json as written, without checking the process (see `status()` for that)."""
        try:
            return json.loads(self.status_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"run_id": self.run_id, "state": "starting"}
        except (OSError, ValueError):
            # A torn write cannot happen (writes are atomic renames), so this is a damaged file.
            return {"run_id": self.run_id, "state": "failed", "error": f"{self.status_path} is unreadable."}

    def update_status(self, **changes: Any) -> dict[str, Any]:
        """Merge `changes` into status.json under the lock; returns the new status."""
        with _locked(self.status_path):
            status = self.read_status()
            status.update(changes)
            status["run_id"] = self.run_id
            status["updated_at"] = now_iso()
            _write_json_atomic(self.status_path, status)
            return status

    def status(self) -> dict[str, Any]:
        """The status, with a dead training process noticed: a live state whose process is gone becomes
        failed, with the end of train.log, and that is written back so that every reader agrees."""
        status = self.read_status()
        if status.get("state") in LIVE_STATES and process_alive(status) is False:
            with _locked(self.status_path):
                status = self.read_status()  # the trainer may have finished between the two reads
                if status.get("state") in LIVE_STATES and process_alive(status) is False:
                    tail = self.log_tail(12)
                    last = next((line for line in reversed(tail) if line.strip()), "")
                    status.update(
                        state="failed",
                        ended_at=now_iso(),
                        log_tail=tail,
                        error=_dead_process_sentence(status, last, self.last_checkpoint()),
                        updated_at=now_iso(),
                    )
                    _write_json_atomic(self.status_path, status)
        return status

    def is_live(self) -> bool:
        return self.status().get("state") in LIVE_STATES

    def last_checkpoint(self) -> Path | None:
        """The checkpoint with the highest step that the Trainer finished writing."""
        best: tuple[int, Path] | None = None
        if self.checkpoints_dir.is_dir():
            for child in self.checkpoints_dir.iterdir():
                match = re.fullmatch(r"checkpoint-(\d+)", child.name)
                if match and (child / "trainer_state.json").is_file():
                    step = int(match.group(1))
                    if best is None or step > best[0]:
                        best = (step, child)
        return best[1] if best else None

    # ----- attaching: read the files from any offset ---------------------------------------------
    def read_log(self, offset: int = 0, max_bytes: int = 1 << 20) -> tuple[str, int]:
        """Text of train.log from byte `offset` (at most max_bytes) and the offset to read from next."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(offset)
                data = handle.read(max_bytes)
        except FileNotFoundError:
            return "", offset
        # A character cut in half at the end is left for the next read, not shown as garbage.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = decoder.decode(data, final=False)
        pending = len(decoder.getstate()[0])
        if data and pending == len(data) and len(data) >= max_bytes:  # max_bytes smaller than one character
            return data.decode("utf-8", errors="replace"), offset + len(data)
        return text, offset + len(data) - pending

    def read_metrics(self, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Complete records of metrics.jsonl from byte `offset`; a half-written last line waits for the
        next call (the offset returned stops before it)."""
        try:
            with open(self.metrics_path, "rb") as handle:
                handle.seek(offset)
                data = handle.read()
        except FileNotFoundError:
            return [], offset
        end = data.rfind(b"\n") + 1
        records = []
        for line in data[:end].splitlines():
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue  # a damaged line costs that line only
        return records, offset + end

    def metrics(self) -> list[dict[str, Any]]:
        return self.read_metrics(0)[0]

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last lines of train.log as a terminal would show them (progress bars' \\r resolved)."""
        try:
            size = self.log_path.stat().st_size
        except FileNotFoundError:
            return []
        text, _ = self.read_log(max(0, size - 64 * 1024))
        shown = [line.split("\r")[-1].rstrip() for line in text.split("\n")]
        shown = [_strip_ansi(line) for line in shown]
        while shown and not shown[-1]:
            shown.pop()
        return shown[-lines:]

    def samples(self) -> list[dict[str, Any]]:
        try:
            return [
                json.loads(line)
                for line in self.samples_path.read_text(encoding="utf-8").splitlines()
                if line
            ]
        except (FileNotFoundError, ValueError):
            return []

    # ----- a summary for `ftui runs` and the runs screen ------------------------------------------
    def summary(self) -> dict[str, Any]:
        status = self.status()
        last_loss = last_eval = step = max_steps = tps = None
        for record in self.metrics():
            if record.get("loss") is not None:
                last_loss = record["loss"]
            if record.get("eval_loss") is not None:
                last_eval = record["eval_loss"]
            if record.get("tokens_per_second") is not None:
                tps = record["tokens_per_second"]
            step = record.get("step", step)
            max_steps = record.get("max_steps", max_steps)
        try:
            config = self.config()
            model, method = config.model, config.settings.method
        except UserError:
            model = method = None
        return {
            "run_id": self.run_id,
            "path": str(self.path),
            "state": status.get("state"),
            "model": model,
            "method": method,
            "step": status.get("step", step),
            "max_steps": status.get("max_steps", max_steps),
            "loss": last_loss,
            "eval_loss": last_eval,
            "tokens_per_second": tps,
            "peak_gpu_gib": status.get("peak_gpu_gib"),
            "created_at": status.get("created_at"),
            "started_at": status.get("started_at"),
            "ended_at": status.get("ended_at"),
            "pid": status.get("pid"),
            "last_checkpoint": status.get("last_checkpoint"),
            "output": status.get("output"),
            "error": status.get("error"),
            "warnings": status.get("warnings", []),
        }


# ----- the process ------------------------------------------------------------------------------
def process_alive(status: dict[str, Any]) -> bool | None:
    """True/False when the run's process can be checked, None when it cannot (no pid yet, another host)."""
    pid = status.get("pid")
    if not pid:
        created = status.get("created_at")
        if status.get("state") == "starting" and created:
            try:
                age = time.time() - _dt.datetime.fromisoformat(created).timestamp()
            except ValueError:
                return None
            return False if age > _START_GRACE_S else None
        return None
    if status.get("host") and status["host"] != socket.gethostname():
        return None
    import psutil

    try:
        process = psutil.Process(int(pid))
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        started = status.get("pid_started")
        # A recycled pid belongs to a process that started later than ours did.
        if started is not None and abs(process.create_time() - float(started)) > 2.0:
            return False
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False
    return True


def _dead_process_sentence(status: dict[str, Any], last_line: str, checkpoint: Path | None) -> str:
    pid = status.get("pid")
    if not pid:
        return (
            f"The run never started (the ftui that made it exited first); `ftui resume {status.get('run_id')}` "
            "starts it."
        )
    where = f" `ftui resume {status.get('run_id')}` continues from {checkpoint.name}." if checkpoint else ""
    said = f" The log ends with: {last_line[:200]}" if last_line else ""
    return (
        f"The training process (pid {pid}) ended without saving its state (killed, or out of host memory); "
        f"see train.log.{where}{said}"
    )


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|[\x00-\x08\x0b-\x1f\x7f]", "", text)


def _slug(text: str) -> str:
    name = text.rstrip("/").split("/")[-1].lower()
    return re.sub(r"[^a-z0-9.]+", "-", name).strip("-.")[:40] or "run"


def create_run(config: RunConfig, runs_dir: str | os.PathLike[str] | None = None) -> RunDirectory:
    """Make a new run directory with its config.toml and a status of `starting`."""
    root = default_runs_dir(runs_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(
            f"Cannot create the runs directory {root} ({error.strerror}); pass --runs-dir DIR."
        ) from None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{_slug(config.name or config.model)}"
    for n in range(1, 1000):
        path = root / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir()
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover
        raise UserError(f"Could not find a free run name under {root}; remove old runs and retry.")
    run = RunDirectory(path)
    config.write(run.config_path)
    run.update_status(state="starting", created_at=now_iso(), host=socket.gethostname())
    return run


def trainer_command(config: RunConfig, run: RunDirectory, *, resume: bool = False) -> list[str]:
    """The command line of the training process: the user's Python or ours; torchrun for several GPUs."""
    python = config.python or sys.executable
    tail = ["-m", "ftui.trainer", str(run.path)] + (["--resume"] if resume else [])
    gpus = config.settings.gpus
    if len(gpus) > 1:
        return [python, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={len(gpus)}", *tail]
    return [python, *tail]


def trainer_environment(config: RunConfig) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if config.settings.gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in config.settings.gpus)
    if config.python:
        # Another interpreter finds this ftui's trainer through PYTHONPATH (it needs unsloth, not ftui).
        package_root = str(Path(__file__).resolve().parent.parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def start(run: RunDirectory, *, resume: bool = False) -> subprocess.Popen:
    """Start the training process for `run`, detached: its own session, output appended to train.log.

    Returns the Popen so that a caller which waits (headless `ftui train`) can reap it; a caller that
    does not (the TUI) can drop it: the process goes on, and status() notices if it dies.
    """
    config = run.config()
    python = config.python or sys.executable
    if config.python and not (os.path.isfile(python) and os.access(python, os.X_OK)):
        raise UserError(
            f"The Python interpreter {python} named in the config does not exist or is not executable; fix `python = ...`."
        )
    command = trainer_command(config, run, resume=resume)
    run.checkpoints_dir.mkdir(exist_ok=True)
    with open(run.log_path, "ab") as log:
        log.write(
            f"[ftui] {now_iso()} {'resuming' if resume else 'starting'}: {' '.join(command)}\n".encode()
        )
        log.flush()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=trainer_environment(config),
            cwd=run.path,
            start_new_session=True,  # no SIGHUP when the terminal goes, no SIGINT from the user's Ctrl-C
            close_fds=True,
        )
    try:
        import psutil

        pid_started = psutil.Process(process.pid).create_time()
    except Exception:  # the process may already be gone; status() will notice
        pid_started = None
    changes: dict[str, Any] = dict(
        state="starting",
        pid=process.pid,
        pid_started=pid_started,
        host=socket.gethostname(),
        started_at=now_iso(),
        ended_at=None,
        error=None,
        log_tail=None,
        command=command,
    )
    if resume:
        checkpoint = run.last_checkpoint()
        changes["resumed_from"] = str(checkpoint) if checkpoint else None
    run.update_status(**changes)
    return process


# ----- finding runs -----------------------------------------------------------------------------
def list_runs(runs_dir: str | os.PathLike[str] | None = None) -> list[RunDirectory]:
    """Every run under the runs directory, oldest first (run ids start with their creation time)."""
    root = default_runs_dir(runs_dir)
    if not root.is_dir():
        return []
    return sorted(
        (RunDirectory(p) for p in root.iterdir() if (p / "config.toml").is_file()), key=lambda r: r.run_id
    )


def find_run(ref: str, runs_dir: str | os.PathLike[str] | None = None) -> RunDirectory:
    """A run by id, unique id prefix, `last`, or path to its directory."""
    as_path = Path(ref).expanduser()
    if as_path.is_dir() and (as_path / "config.toml").is_file():
        return RunDirectory(as_path.resolve())
    runs = list_runs(runs_dir)
    if ref in ("last", "latest"):
        if not runs:
            raise UserError(
                f"There are no runs in {default_runs_dir(runs_dir)} yet; start one with `ftui train`."
            )
        return runs[-1]
    exact = [r for r in runs if r.run_id == ref]
    if exact:
        return exact[0]
    matches = [r for r in runs if r.run_id.startswith(ref) or ref in r.run_id]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UserError(f"No run matches {ref!r} in {default_runs_dir(runs_dir)}; `ftui runs` lists them.")
    raise UserError(
        f"{ref!r} matches {len(matches)} runs ({', '.join(r.run_id for r in matches[:3])}, ...); give more of the id."
    )


# ----- stopping, killing, resuming --------------------------------------------------------------
def _signal_group(status: dict[str, Any], sig: int) -> bool:
    pid = status.get("pid")
    if not pid or process_alive(status) is not True:
        return False
    try:
        os.killpg(int(pid), sig)  # the whole session: torchrun and every rank under it
    except ProcessLookupError:
        return False
    except PermissionError:
        raise UserError(
            f"Not allowed to signal the training process {pid}; stop it as the user who started it."
        ) from None
    return True


def stop(run: RunDirectory, *, wait: float | None = None) -> dict[str, Any]:
    """Ask the run to stop gracefully (SIGTERM): it saves a checkpoint and the adapter, then ends as
    `stopped`. With `wait`, wait up to that many seconds for it to finish."""
    status = run.status()
    if status.get("state") not in LIVE_STATES:
        raise UserError(f"Run {run.run_id} is not running (it is {status.get('state')}); nothing to stop.")
    if not _signal_group(status, signal.SIGTERM):
        return run.status()
    run.update_status(stop_requested_at=now_iso())
    if wait:
        wait_until_final(run, timeout=wait)
    return run.status()


def kill(run: RunDirectory) -> dict[str, Any]:
    """End the run at once (SIGKILL to its session). Checkpoints already written stay; the adapter of
    the current step is not saved."""
    status = run.status()
    if status.get("state") not in LIVE_STATES:
        raise UserError(f"Run {run.run_id} is not running (it is {status.get('state')}); nothing to kill.")
    _signal_group(status, signal.SIGKILL)
    checkpoint = run.last_checkpoint()
    resume = f"; `ftui resume {run.run_id}` continues from {checkpoint.name}" if checkpoint else ""
    with _locked(run.status_path):
        current = run.read_status()
        if current.get("state") in LIVE_STATES:
            current.update(
                state="failed",
                ended_at=now_iso(),
                updated_at=now_iso(),
                error=f"Killed with `ftui kill` at step {current.get('step', 0)}{resume}.",
            )
            _write_json_atomic(run.status_path, current)
    return run.read_status()


def resume(run: RunDirectory) -> subprocess.Popen:
    """Start the run again from its last checkpoint (from the start when it has none)."""
    status = run.status()
    state = status.get("state")
    if state in LIVE_STATES:
        raise UserError(
            f"Run {run.run_id} is still {state} (pid {status.get('pid')}); stop it first or attach to it."
        )
    if state == "completed":
        raise UserError(
            f"Run {run.run_id} already completed; to train longer, start a new run with more steps."
        )
    return start(run, resume=True)


def wait_until_final(run: RunDirectory, *, timeout: float | None = None, poll: float = 0.5) -> dict[str, Any]:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        status = run.status()
        if status.get("state") in FINAL_STATES:
            return status
        if deadline is not None and time.monotonic() > deadline:
            return status
        time.sleep(poll)


@dataclass
class FollowEvent:
    """What `follow` yields: new log text, new metric records, and the status when it changed."""

    log: str
    metrics: list[dict[str, Any]]
    status: dict[str, Any] | None


def follow(
    run: RunDirectory,
    *,
    log_offset: int = 0,
    metrics_offset: int = 0,
    poll: float = 0.5,
    process: subprocess.Popen | None = None,
) -> Iterator[FollowEvent]:
    """Attach to a run: yield what is new in train.log and metrics.jsonl until the run reaches a final
    state (then one last event with everything that was left). Works on any run, also one started by
    an earlier ftui; `process`, when this ftui started it, is reaped so that it does not linger."""
    last_state = None
    while True:
        if process is not None:
            process.poll()
        status = run.status()
        text, log_offset = run.read_log(log_offset)
        records, metrics_offset = run.read_metrics(metrics_offset)
        key = (status.get("state"), status.get("phase"))
        changed = status if key != last_state else None
        last_state = key
        if text or records or changed:
            yield FollowEvent(text, records, changed)
        if status.get("state") in FINAL_STATES:
            if process is not None:
                # Our own child: wait for it to exit, so that its GPU memory is free when we return.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=120)
            text, log_offset = run.read_log(log_offset)
            records, metrics_offset = run.read_metrics(metrics_offset)
            if text or records:
                yield FollowEvent(text, records, None)
            return
        time.sleep(poll)
