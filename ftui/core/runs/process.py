"""The detached training process: create a run, start or resume it (one atomic claim), notice when it
died, stop it, kill it; and find runs.

The training process runs in its own session (start_new_session) with its output going to train.log,
so closing the TUI or losing the SSH connection does not stop it; any later ftui attaches to it by
reading the run's files. A run has at most one training process: starting and resuming claim the run
under the status lock (check the state, start the process, record its pid, as one step), and the trainer
itself holds trainer.lock for its whole life, so even a start that went around ftui cannot make two.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Protocol

import msgspec

from ftui.core import fs
from ftui.core.errors import UserError
from ftui.core.paths import runs_dir as default_runs_dir
from ftui.core.run_config import RunConfig
from ftui.core.runs.directory import CREATE_GRACE_S, RunDirectory
from ftui.core.runs.records import LIVE_RANK_STATES, RankStatus, RunStatus, TrainRecord, now_iso

# A run that never got a pid this long after it was created is taken as never started.
_START_GRACE_S = CREATE_GRACE_S


def runs_root(override: str | os.PathLike[str] | None = None) -> Path:
    """The runs directory, absolute: a relative --runs-dir is taken from where ftui was started, once,
    here (the trainer's working directory is the run folder)."""
    return default_runs_dir(override).expanduser().absolute()


# ----- is the process there? ---------------------------------------------------------------------
class ProcessRecord(Protocol):
    """What process_alive reads: a run's status, or any record of a detached process (an export's)."""

    @property
    def pid(self) -> int | None: ...
    @property
    def pid_started(self) -> float | None: ...
    @property
    def host(self) -> str | None: ...
    @property
    def state(self) -> str: ...
    @property
    def created_at(self) -> str | None: ...


def process_alive(status: ProcessRecord) -> bool | None:
    """True/False when the run's process can be checked, None when it cannot (no pid yet, another host)."""
    pid = status.pid
    if not pid:
        created = status.created_at
        if status.state == "starting" and created:
            try:
                age = time.time() - _dt.datetime.fromisoformat(created).timestamp()
            except ValueError:
                return None
            return False if age > _START_GRACE_S else None
        return None
    host = status.host
    if host and host != socket.gethostname():
        return None
    import psutil

    try:
        process = psutil.Process(int(pid))
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        started = status.pid_started
        # A recycled pid belongs to a process that started later than ours did.
        if started is not None and abs(process.create_time() - float(started)) > 2.0:
            return False
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False
    return True


def is_alive(run: RunDirectory, status: RunStatus) -> bool | None:
    """The run's training: a trainer holds its lock (certain, on this host), else its process is there
    (a Slurm job: Slurm says whether it is)."""
    if run.trainer_holder() is not None:
        return True
    if status.slurm_job_id:
        from ftui.core.slurm import job_alive

        return job_alive(status.slurm_job_id)
    if status.slurm_state == "UNSUBMITTED":
        return None  # a job script written for the user to submit: nothing to check until they do
    return process_alive(status)


def reconcile(run: RunDirectory) -> RunStatus:
    """The status, with a dead training process noticed: a live state whose process is gone becomes
    failed, with the end of train.log, and that is written back so that every reader agrees."""
    status = run.read_status()
    if status.is_live and is_alive(run, status) is False:
        with run.locked():
            status = _reconcile_locked(run)
    return status


def _reconcile_locked(run: RunDirectory) -> RunStatus:
    status = run.read_status()  # the trainer may have finished between the two reads
    if status.is_live and is_alive(run, status) is False:
        tail = run.log_tail(12)
        last = next((line for line in reversed(tail) if line.strip()), "")
        status = msgspec.structs.replace(
            status,
            state="failed",
            ended_at=now_iso(),
            log_tail=tail,
            phase=None,
            error=_dead_slurm_job_sentence(status, run)
            or _dead_process_sentence(status, last, run.last_checkpoint()),
            updated_at=now_iso(),
        )
        run.write_status(status)
    return status


def _dead_slurm_job_sentence(status: RunStatus, run: RunDirectory) -> str | None:
    if not status.slurm_job_id:
        return None
    from ftui.core.slurm import ended_sentence

    return ended_sentence(status.slurm_job_id, run)


def _dead_process_sentence(status: RunStatus, last_line: str, checkpoint: Path | None) -> str:
    run_id = status.run_id
    pid = status.pid
    if not pid:
        return (
            f"The run never started (the ftui that made it exited first); `ftui resume {run_id}` starts it."
        )
    where = f" `ftui resume {run_id}` continues from {checkpoint.name}." if checkpoint else ""
    said = f" The log ends with: {last_line[:200]}" if last_line else ""
    return (
        f"The training process (pid {pid}) ended without saving its state (killed, or out of host memory); "
        f"see train.log.{where}{said}"
    )


def last_step(run: RunDirectory) -> int | None:
    """The step of the latest training record: fresher than status.json, which is written less often."""
    steps = [r.step for r in run.metrics() if isinstance(r, TrainRecord)]
    return steps[-1] if steps else None


# ----- creating and starting --------------------------------------------------------------------
def _slug(text: str) -> str:
    name = text.rstrip("/").split("/")[-1].lower()
    return re.sub(r"[^a-z0-9.]+", "-", name).strip("-.")[:40] or "run"


def ensure_runs_root(runs_dir: str | os.PathLike[str] | None = None) -> Path:
    """The runs directory, made if need be; UserError when it cannot be."""
    root = runs_root(runs_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(
            f"Cannot create the runs directory {root} ({error.strerror}); pass --runs-dir DIR."
        ) from None
    return root


def create_run(config: RunConfig, runs_dir: str | os.PathLike[str] | None = None) -> RunDirectory:
    """Make a new run directory with its config.toml and a status of `starting`."""
    root = ensure_runs_root(runs_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{_slug(config.name or config.model)}"
    for n in range(1, 1000):
        path = root / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir()
            break
        except FileExistsError:
            continue
        except OSError as error:
            raise UserError(
                f"Cannot create a run folder in {root} ({error.strerror}); make it writable or pass --runs-dir DIR."
            ) from None
    else:  # pragma: no cover
        raise UserError(f"Could not find a free run name under {root}; remove old runs and retry.")
    run = RunDirectory(path)
    try:
        config.write(run.config_path)
    except OSError as error:
        raise UserError(f"Cannot write {run.config_path} ({error.strerror}); free some disk space.") from None
    run.update_status(state="starting", created_at=now_iso(), host=socket.gethostname())
    return run


def trainer_command(config: RunConfig, run: RunDirectory, *, resume: bool = False) -> list[str]:
    """The command line of the training process: the user's Python or ours; for several GPUs or machines,
    torchrun through ftui's launcher (ftui.core.launch)."""
    from ftui.core.launch import node_command

    return node_command(config, run, resume=resume)


def trainer_environment(config: RunConfig) -> dict[str, str]:
    """The training process's environment, with the sharding decided for several GPUs (ftui.core.launch)."""
    from ftui.core.launch import node_environment

    return node_environment(config)


def data_fingerprint(data: str) -> str | None:
    """A local dataset's size and modification time, to notice it changed before a resume; None for a
    Hub dataset (its revision is the Hub's business)."""
    import datetime as dt

    try:
        info = os.stat(fs.expand(data))
    except (OSError, ValueError):
        return None
    when = dt.datetime.fromtimestamp(info.st_mtime).isoformat(timespec="seconds")
    return f"{info.st_size:,} bytes, modified {when}"


def check_python(config: RunConfig) -> None:
    python = config.python
    if python and not (os.path.isfile(python) and os.access(python, os.X_OK)):
        raise UserError(
            f"The Python interpreter {python} named in the config does not exist or is not executable; "
            "fix `python = ...` (or --python), or leave it out to train with ftui's own."
        )


def start(run: RunDirectory, *, resume: bool = False) -> subprocess.Popen:
    """Claim the run and start its training process, detached: its own session, output appended to
    train.log. The claim is atomic: under the status lock the run must not be live (nor, for a resume,
    finished), and the process's pid is recorded before the lock is let go, so a second start or resume
    racing this one is refused with the pid that won.

    Returns the Popen so that a caller which waits (headless `ftui train`) can reap it; a caller that
    does not (the TUI) can drop it: the process goes on, and status() notices if it dies. A start that
    cannot happen leaves the run failed with the reason, never a ghost in `starting`.
    """
    with run.locked():
        status = _reconcile_locked(run)
        pid = status.trainer_pid or status.pid
        if status.is_live and (status.pid or run.trainer_holder() is not None):
            verb = "being started" if status.state == "starting" else "running"
            raise UserError(
                f"Run {run.run_id} is {verb} by pid {pid}; attach to it with `ftui runs {run.run_id} --follow` "
                "or stop it first."
            )
        if resume:
            finished = run.finished()
            if status.state == "completed" or finished:
                why = f" ({finished})" if finished else ""
                raise UserError(
                    f"Run {run.run_id} already completed{why}; to train longer, start a new run with more steps."
                )
        try:
            config = run.config()
            check_python(config)
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
        except (UserError, OSError) as error:
            sentence = (
                str(error)
                if isinstance(error, UserError)
                else (
                    f"Could not start the training process ({error.strerror or error}); check the run folder "
                    f"{run.path} and the Python that trains."
                )
            )
            run.update_status_locked(state="failed", phase=None, error=sentence, ended_at=now_iso())
            raise UserError(sentence) from None
        try:
            import psutil

            pid_started: float | None = psutil.Process(process.pid).create_time()
        except Exception:  # the process may already be gone; status() will notice
            pid_started = None
        checkpoint = run.last_checkpoint() if resume else None
        fingerprint = data_fingerprint(config.data)
        warnings = list(status.warnings)
        if resume and status.data_fingerprint and fingerprint and fingerprint != status.data_fingerprint:
            changed = (
                f"The dataset {config.data} changed since the run started ({status.data_fingerprint} then, "
                f"{fingerprint} now): the resumed run trains on the new rows from "
                f"{checkpoint.name if checkpoint else 'the start'}."
            )
            if changed not in warnings:
                warnings.append(changed)
        run.update_status_locked(
            data_fingerprint=status.data_fingerprint if resume and status.data_fingerprint else fingerprint,
            warnings=warnings,
            state="starting",
            phase="starting the trainer",
            pid=process.pid,
            pid_started=pid_started,
            trainer_pid=None,
            host=socket.gethostname(),
            started_at=now_iso(),
            ended_at=None,
            error=None,
            log_tail=None,
            command=command,
            stop_requested_at=None,
            kill_requested_at=None,
            resumed_from=str(checkpoint) if checkpoint else None,
            nodes=[],
            ranks=[],
            failed_rank=None,
        )
    return process


def resume(run: RunDirectory) -> subprocess.Popen:
    """Start the run again from its last checkpoint (from the start when it has none)."""
    return start(run, resume=True)


# ----- finding runs -----------------------------------------------------------------------------
def list_runs(runs_dir: str | os.PathLike[str] | None = None) -> list[RunDirectory]:
    """Every run under the runs directory, oldest first (run ids start with their creation time)."""
    root = runs_root(runs_dir)
    try:
        children = list(root.iterdir())
    except OSError:
        return []
    found = []
    for path in children:
        try:
            if path.is_dir() and (path / "config.toml").is_file():
                found.append(RunDirectory(path))
        except OSError:
            continue
    return sorted(found, key=lambda r: r.run_id)


def find_run(ref: str, runs_dir: str | os.PathLike[str] | None = None) -> RunDirectory:
    """A run by id, unique id prefix, `last`, or path to its directory."""
    if not ref.strip():
        raise UserError(
            "Give a run: an id, a unique part of one, `last`, or a run folder (`ftui runs` lists them)."
        )
    as_path = fs.expand(ref)
    try:
        if as_path.is_dir() and (as_path / "config.toml").is_file():
            return RunDirectory(as_path.absolute())
    except OSError:
        pass  # a name too long for a path, say: then it is an id, or nothing
    runs = list_runs(runs_dir)
    if ref in ("last", "latest"):
        if not runs:
            raise UserError(f"There are no runs in {runs_root(runs_dir)} yet; start one with `ftui train`.")
        return runs[-1]
    exact = [r for r in runs if r.run_id == ref]
    if exact:
        return exact[0]
    matches = [r for r in runs if r.run_id.startswith(ref) or ref in r.run_id]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UserError(f"No run matches {ref!r} in {runs_root(runs_dir)}; `ftui runs` lists them.")
    raise UserError(
        f"{ref!r} matches {len(matches)} runs ({', '.join(r.run_id for r in matches[:3])}, ...); give more of the id."
    )


# ----- stopping, killing ------------------------------------------------------------------------
def _groups(run: RunDirectory, status: RunStatus) -> set[int]:
    """The process groups (sessions) of the run's processes that ftui started here: its own, the trainer's,
    and every rank's of the first machine (torchrun starts each rank in a session of its own, so a SIGKILL
    to its agent's group would leave them running). Other machines' launchers end their own ranks."""
    local_ranks = [r.pid for r in _first_machines_ranks(status)]
    groups: set[int] = set()
    for pid in (
        getattr(status, "pid", None),
        run.trainer_holder() or None,
        getattr(status, "trainer_pid", None),
        *local_ranks,
    ):
        if pid:
            try:
                groups.add(os.getpgid(int(pid)))
            except (ProcessLookupError, PermissionError, ValueError):
                continue
    return groups


def _first_machines_ranks(status: RunStatus) -> list[RankStatus]:
    """The ranks that node 0 (the machine whose `ftui train` made the run, where ftui runs now) started."""
    here = socket.gethostname()
    return [r for r in status.ranks if r.pid and r.node in (None, 0) and r.host in (None, here)]


def _signal(run: RunDirectory, status: RunStatus, sig: int) -> bool:
    """Signal every process group of the run (torchrun and each rank under it); True if one was signalled."""
    if is_alive(run, status) is not True:
        return False
    sent = False
    for group in _groups(run, status):
        if group in (0, 1, os.getpgid(0)):  # never ourselves or init
            continue
        try:
            os.killpg(group, sig)
            sent = True
        except ProcessLookupError:
            continue
        except PermissionError:
            raise UserError(
                f"Not allowed to signal run {run.run_id}'s process group {group}; stop it as the user who started it."
            ) from None
    return sent


def _not_running(run: RunDirectory, status: RunStatus, what: str) -> UserError:
    state = status.state
    hint = {
        "completed": "it completed",
        "stopped": f"it was stopped; `ftui resume {run.run_id}` continues it",
        "failed": f"it failed; `ftui resume {run.run_id}` continues it",
        "oom": "it ran out of GPU memory; see `ftui runs` for settings that fit",
    }.get(state, f"it is {state}")
    return UserError(f"Run {run.run_id} is not running ({hint}); nothing to {what}.")


def stop(run: RunDirectory, *, wait: float | None = None) -> RunStatus:
    """Ask the run to stop gracefully (SIGTERM): it saves a checkpoint and the adapter, then ends as
    `stopped`. With `wait`, wait up to that many seconds for it to finish. Returns the status."""
    status = run.status()
    if not status.is_live:
        raise _not_running(run, status, "stop")
    # The file reaches a run on other machines or under Slurm (rank 0 reads it after each step); the
    # signal reaches the training processes on this machine at once.
    run.update_status(stop_requested_at=now_iso())
    if not _signal(run, status, signal.SIGTERM) and is_alive(run, status) is False:
        return run.status()
    if wait:
        from ftui.core.runs.follow import wait_until_final

        wait_until_final(run, timeout=wait)
    return run.status()


def kill(run: RunDirectory) -> RunStatus:
    """End the run at once (SIGKILL to its sessions). Checkpoints already written stay; the adapter of
    the current step is not saved."""
    status = run.status()
    if not status.is_live:
        raise _not_running(run, status, "kill")
    if status.nodes:  # other machines' launchers end their own processes when they read this
        status = run.update_status(kill_requested_at=now_iso())
    killed = _signal(run, status, signal.SIGKILL)
    if status.slurm_job_id:
        from ftui.core.slurm import cancel

        killed = cancel(status.slurm_job_id) or killed  # the whole job, on every node
    with run.locked():
        if not killed:
            return _reconcile_locked(run)  # it was gone already: say how it ended, not that we killed it
        current = run.read_status()
        if current.is_live:
            step = last_step(run) or current.step or 0
            checkpoint = run.last_checkpoint()
            resume_hint = (
                f"; `ftui resume {run.run_id}` continues from {checkpoint.name}" if checkpoint else ""
            )
            killed_here = {r.rank for r in _first_machines_ranks(current) if r.state in LIVE_RANK_STATES}
            ranks = [
                msgspec.structs.replace(r, state="failed", signal="SIGKILL", error="Killed with `ftui kill`.")
                if r.rank in killed_here
                else r
                for r in current.ranks
            ]
            current = run.update_status_locked(
                state="failed",
                ended_at=now_iso(),
                phase=None,
                step=step,
                ranks=ranks,
                error=f"Killed with `ftui kill` at step {step}{resume_hint}.",
            )
        return current
