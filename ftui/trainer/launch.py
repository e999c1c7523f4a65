"""`python -m ftui.trainer.launch RUN_DIR --node K [--resume] [--log FILE] -- TORCHRUN_FLAGS`: one machine's
part of a run on several processes.

This is torchrun: torch.distributed.run's own parser and elastic agent, run in this process with the
flags given after `--`, starting `python -m ftui.trainer RUN_DIR` once per GPU. What ftui adds around it:

  * the machine's entry in status.json (RunStatus.nodes) before it waits for the rendezvous, so a
    rendezvous that times out can say which machine never came;
  * a graceful stop: SIGTERM to this launcher is passed on to the training processes, which stop after
    the step with a checkpoint (torchrun would tear them down after 30 s, mid-save);
  * `ftui kill` from any machine: it writes kill_requested_at, and every machine's launcher ends its own
    training processes at once (a signal reaches one machine only, and ranks left on the others would
    hold their GPUs until a collective times out);
  * the verdict when torchrun ends badly: which rank died and how (its own sentence when it had one), or
    which machine never joined, written to status.json as one sentence with what to do.

Only torch (its distributed launcher) is imported here, never unsloth: the launcher stays small.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from ftui.core import launch as plan
from ftui.core.members import record_node, record_rank
from ftui.core.runs.directory import RunDirectory
from ftui.core.runs.records import LIVE_RANK_STATES, now_iso


def _say(message: str) -> None:
    print(f"[ftui] {message}", flush=True)


def _redirect_output(path: Path) -> None:
    """Send this launcher's output, and so its training processes', to `path` (appended)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for target in (1, 2):
        os.dup2(fd, target)
    os.close(fd)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)


def _forward_sigterm() -> None:
    """SIGTERM (ftui stop, scancel) goes to the training processes, which finish the step and save; the
    agent keeps waiting for them. torchrun's own handler would end them 30 s later, maybe mid-save."""
    from torch.distributed.elastic.multiprocessing import api

    original = api._terminate_process_handler

    def handler(signum, frame):
        if signum != signal.SIGTERM:
            return original(signum, frame)
        import psutil

        children = psutil.Process().children(recursive=False)
        _say(f"SIGTERM: passing it on to {len(children)} training process(es); they stop after this step.")
        for child in children:
            try:
                child.send_signal(signal.SIGTERM)
            except psutil.Error:
                continue
        return None

    api._terminate_process_handler = handler


KILL_POLL_S = 1.0  # how often a machine's launcher reads status.json for `ftui kill`


def _end_on_kill(run: RunDirectory, node: int) -> None:
    """Watch status.json for `ftui kill` (kill_requested_at); then SIGKILL this machine's training
    processes (each in a session of its own, torchrun's way), record the machine as killed and exit."""

    def watch() -> None:
        while not _kill_requested(run):
            time.sleep(KILL_POLL_S)
        _end_killed(run, node)
        os._exit(137)  # at once: torchrun's threads would keep a normal exit waiting

    threading.Thread(target=watch, name="ftui-kill-watch", daemon=True).start()


def _kill_requested(run: RunDirectory) -> str | None:
    try:
        return run.read_status().kill_requested_at
    except Exception:  # a status being replaced, or storage that went away for a moment
        return None


_kill_lock = threading.Lock()


def _end_killed(run: RunDirectory, node: int) -> None:
    """SIGKILL what is left of this machine's training processes and record the machine, and its ranks
    still marked live, as killed. Once per process: the watcher and torchrun's failure path may both come."""
    if not _kill_lock.acquire(blocking=False):
        return
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        try:
            child.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(children, timeout=30)
    requested = _kill_requested(run)
    sentence = f"Killed with `ftui kill` at {requested}."
    _say(f"{sentence} Ended {len(children)} process(es) on node {node}.")
    for rank in run.read_status().ranks:
        if rank.node == node and rank.state in LIVE_RANK_STATES:
            record_rank(run, rank.rank, state="failed", signal="SIGKILL", error=sentence)
    record_node(run, node, state="failed", ended_at=now_iso(), error=sentence)
    with run.locked():  # `ftui kill` on a machine with none of the run's processes marks nothing itself
        if run.read_status().is_live:
            run.update_status_locked(
                state="failed", phase=None, ended_at=now_iso(), error=sentence + _resume_hint(run)
            )
    sys.stdout.flush()
    sys.stderr.flush()


def _stop_while_waiting(run: RunDirectory, node: int) -> None:
    """SIGTERM before the training processes exist (the machines are still meeting): nothing was trained,
    so the run is stopped here and now. torchrun's own handler (passed on, above) replaces this one once
    it starts the processes."""

    def handler(signum, frame):
        _say("SIGTERM while the machines were meeting: stopped before training began.")
        record_node(run, node, state="stopped", ended_at=now_iso())
        with run.locked():
            if run.read_status().is_live:
                run.update_status_locked(
                    state="stopped", phase=None, ended_at=now_iso(), error="Stopped before training began."
                )
        sys.stdout.flush()
        sys.stderr.flush()
        # At once: torchrun's rendezvous keeps threads that a SystemExit would wait for.
        os._exit(0)

    signal.signal(signal.SIGTERM, handler)


def _environment_for_joining_node(run: RunDirectory) -> None:
    """A machine that joins later takes the sharding the run was started with (status.json)."""
    if os.environ.get("FTUI_SHARDING"):
        return
    status = run.read_status()
    if not status.sharding:
        return
    try:
        method = run.config().settings.method
    except Exception:
        method = "qlora"
    os.environ.update(plan.sharding_environment(status.sharding, method))
    os.environ["FTUI_SHARDING"] = status.sharding
    if status.sharding_reason:
        os.environ["FTUI_SHARDING_REASON"] = status.sharding_reason


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        print(
            "usage: python -m ftui.trainer.launch RUN_DIR --node K [--resume] -- TORCHRUN_FLAGS",
            file=sys.stderr,
        )
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="python -m ftui.trainer.launch")
    parser.add_argument("run_dir")
    parser.add_argument("--node", type=int, default=0, help="ftui's number for this machine (0 made the run)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--log", help="a file in the run folder for this machine's output")
    args = parser.parse_args(argv[:split])
    torchrun_flags = argv[split + 1 :]
    run = RunDirectory(Path(args.run_dir).resolve())
    if args.log:
        _redirect_output(run.path / args.log)
    node = args.node
    os.environ["FTUI_NODE"] = str(node)  # the training processes record it with their rank
    _environment_for_joining_node(run)
    status = run.read_status()
    resume = args.resume or (node > 0 and status.resumed_from is not None)
    slurm_job = os.environ.get("SLURM_JOB_ID")
    host = socket.gethostname()
    if node == 0:
        changes: dict[str, object] = {
            "node_count": _flag_int(torchrun_flags, "--nnodes") or 1,
            "rendezvous": _flag(torchrun_flags, "--rdzv-endpoint"),
        }
        if os.environ.get("FTUI_SHARDING"):
            changes["sharding"] = os.environ["FTUI_SHARDING"]
            changes["sharding_reason"] = os.environ.get("FTUI_SHARDING_REASON")
        if slurm_job:
            changes.update(slurm_job_id=slurm_job, host=host, pid=os.getpid())
        run.update_status(**changes)
    record_node(
        run,
        node,
        host=host,
        pid=os.getpid(),
        state="waiting",
        log=args.log or plan.node_log(node),
        started_at=now_iso(),
        ended_at=None,
        error=None,
    )
    _stop_while_waiting(run, node)
    _end_on_kill(run, node)
    _say(f"node {node} on {host}: torchrun {' '.join(torchrun_flags)}")
    import torch.distributed.run as torchrun
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous.api import (
        RendezvousClosedError,
        RendezvousError,
        RendezvousTimeoutError,
    )

    _forward_sigterm()
    trainer_args = ["-m", "ftui.trainer", str(run.path)] + (["--resume"] if resume else [])
    arguments = torchrun.parse_args([*torchrun_flags, *trainer_args])
    try:
        torchrun.run(arguments)
    except BaseException as error:
        if _kill_requested(run):  # they died of `ftui kill` (the rendezvous with them): say that alone
            _end_killed(run, node)
            return 137
        if isinstance(error, ChildFailedError):
            print(error.format_msg(), file=sys.stderr, flush=True)
            _ranks_failed(run, node, host, error)
        elif isinstance(error, RendezvousTimeoutError):
            _never_joined(run, node, torchrun_flags)
        elif isinstance(error, RendezvousClosedError):
            _closed_by_another(run, node)
        elif isinstance(error, RendezvousError):
            _unreachable(run, node, torchrun_flags, error)
        elif isinstance(error, Exception):  # the agent itself failed: say so, with what it said
            sentence = f"torchrun failed on node {node} ({host}) before training: {type(error).__name__}: {_one_line(error)}."
            _say(sentence)
            record_node(run, node, state="failed", ended_at=now_iso(), error=sentence)
            _fail_run(run, sentence)
        else:
            raise  # KeyboardInterrupt, SystemExit: not a verdict on the run
        return 1
    final = run.read_status().state
    record_node(run, node, state="stopped" if final == "stopped" else "completed", ended_at=now_iso())
    return 0


def _flag_int(flags: list[str], name: str) -> int | None:
    for flag in flags:
        if flag.startswith(name + "="):
            value = flag.split("=", 1)[1].split(":")[-1]
            return int(value) if value.isdigit() else None
    return None


def _flag(flags: list[str], name: str) -> str | None:
    for flag in flags:
        if flag.startswith(name + "="):
            return flag.split("=", 1)[1]
    return None


def _one_line(error: BaseException, limit: int = 300) -> str:
    text = " ".join(str(error).split()).rstrip(".")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _resume_hint(run: RunDirectory) -> str:
    checkpoint = run.last_checkpoint()
    if checkpoint is None:
        return f" `ftui resume {run.run_id}` starts it again."
    return f" `ftui resume {run.run_id}` continues from {checkpoint.name}."


def _fail_run(run: RunDirectory, sentence: str, *, state: str = "failed", **changes: object) -> None:
    """Mark the run failed (or oom) with `sentence`, unless it already ended well (completed, stopped)."""
    with run.locked():
        status = run.read_status()
        if status.state in ("completed", "stopped") or status.kill_requested_at:
            return  # it ended well, or `ftui kill` ended it and said so
        run.update_status_locked(
            state=state, phase=None, error=sentence, ended_at=status.ended_at or now_iso(), **changes
        )


def _ranks_failed(run: RunDirectory, node: int, host: str, error) -> None:
    """torchrun's failures on this machine, recorded per rank; then the run's verdict from every rank
    any machine has recorded so far (the machine that saw the first death may write last)."""
    known = {r.rank: r for r in run.read_status().ranks}
    for rank, failure in sorted(error.failures.items()):
        signal_name = failure.signal_name() if failure.exitcode < 0 else None
        own = known.get(int(rank))
        record_rank(
            run,
            int(rank),
            node=node,
            local_rank=failure.local_rank,
            host=host,
            pid=failure.pid,
            state=own.state if own is not None and own.state in ("failed", "oom") else "failed",
            exit_code=failure.exitcode,
            signal=signal_name if signal_name and signal_name != "<N/A>" else None,
            failed_at=(
                own.failed_at
                if own is not None and own.failed_at
                else float(failure.timestamp or time.time())
            ),
        )
    status = run.read_status()
    try:
        timeout = run.config().settings.collective_timeout_s
    except Exception:
        timeout = None
    from ftui.core.runs.process import last_step

    rank, sentence = plan.rank_failure_sentence(
        status, resume_hint=_resume_hint(run), collective_timeout_s=timeout, step=last_step(run)
    )
    root = next((r for r in status.ranks if r.rank == rank), None)
    if root is not None and root.state == "oom":
        _fail_run(run, sentence or "", failed_rank=rank, state="oom")
        record_node(run, node, state="failed", ended_at=now_iso(), error=sentence)
        _say(sentence or "")
        return
    sentence = sentence or f"Training failed on node {node} ({host}); see {plan.node_log(node)}."
    _say(sentence)
    record_node(run, node, state="failed", ended_at=now_iso(), error=sentence)
    _fail_run(run, sentence, failed_rank=rank)


def _never_joined(run: RunDirectory, node: int, flags: list[str]) -> None:
    endpoint = _flag(flags, "--rdzv-endpoint") or "the rendezvous"
    conf = _flag(flags, "--rdzv-conf") or ""
    timeout = next((int(p.split("=")[1]) for p in conf.split(",") if p.startswith("join_timeout=")), 600)
    sentence = plan.never_joined_sentence(run.read_status(), endpoint, timeout, run)
    _say(sentence)
    record_node(run, node, state="failed", ended_at=now_iso(), error=sentence)
    _fail_run(run, sentence)


def _closed_by_another(run: RunDirectory, node: int) -> None:
    """Another machine's launcher ended the job (one of its ranks failed): its verdict stands."""
    sentence = (
        f"Node {node} stopped because another machine ended the job; the rank that failed is named in "
        "status.json and that machine's log."
    )
    _say(sentence)
    record_node(run, node, state="failed", ended_at=now_iso(), error=sentence)
    status = run.read_status()
    if status.is_live:
        rank, verdict = plan.rank_failure_sentence(status, resume_hint=_resume_hint(run))
        _fail_run(run, verdict or sentence, failed_rank=rank)


def _unreachable(run: RunDirectory, node: int, flags: list[str], error: BaseException) -> None:
    endpoint = _flag(flags, "--rdzv-endpoint") or "the rendezvous"
    sentence = (
        f"Node {node} could not reach the rendezvous at {endpoint} ({type(error).__name__}: "
        f"{_one_line(error, 160)}); start node 0 first (the `ftui train` that made the run), and check "
        f"that this machine can reach {endpoint}."
    )
    _say(sentence)
    record_node(run, node, state="failed", ended_at=now_iso(), error=sentence)
    _fail_run(run, sentence)


if __name__ == "__main__":
    sys.exit(main())
