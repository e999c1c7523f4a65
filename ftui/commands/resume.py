"""`ftui resume RUN`: continue a stopped, failed or killed run from its last checkpoint, and follow it."""

from __future__ import annotations

import argparse

from ftui.commands._output import add_json_flag, emit

ORDER = 74


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "resume",
        help="continue a stopped or failed run from its last checkpoint",
        description="Start the run's training process again, in the same run folder, from its last "
        "checkpoint (optimizer, scheduler and step included); metrics and log carry on where they were.",
    )
    parser.add_argument("run", help="a run id, a unique part of one, `last`, or a run folder")
    parser.add_argument("--detach", action="store_true", help="start it and return at once")
    parser.add_argument("--runs-dir", help="where runs are kept")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from ftui.commands._follow import follow_and_report
    from ftui.core.runs import find_run, resume

    found = find_run(args.run, args.runs_dir)
    if found.read_status().slurm_job_id:
        return _resume_in_slurm(args, found)
    process = resume(found)
    checkpoint = found.last_checkpoint()
    where = f"from {checkpoint.name}" if checkpoint else "from the start (no checkpoint yet)"
    for warning in found.read_status().warnings:
        if warning.startswith("The dataset"):
            print(f"ftui: warning: {warning}", file=sys.stderr, flush=True)
    from ftui.core.launch import join_command

    nodes = found.config().settings.nodes
    joins = "".join(
        f"\nStart node {k} on its machine with `{join_command(found, k)}`." for k in range(1, nodes)
    )
    if args.detach:
        emit(
            args,
            {
                "run_id": found.run_id,
                "pid": process.pid,
                "state": "starting",
                "resumed_from": str(checkpoint) if checkpoint else None,
            },
            f"Resumed {found.run_id} {where} (pid {process.pid}); `ftui runs {found.run_id} --follow` attaches."
            + joins,
        )
        return 0
    out = sys.stderr if args.json else sys.stdout
    print(
        f"Resuming {found.run_id} {where} (pid {process.pid}); Ctrl-C detaches, the run goes on.{joins}",
        file=out,
        flush=True,
    )
    return follow_and_report(args, found, process, from_now=True)


def _resume_in_slurm(args: argparse.Namespace, found) -> int:
    """A run that went through Slurm resumes through Slurm: a new job, from the last checkpoint."""
    import sys

    from ftui.commands._follow import follow_and_report
    from ftui.core.errors import UserError
    from ftui.core.slurm import submit

    status = found.status()
    if status.is_live:
        raise UserError(
            f"Run {found.run_id} is {status.state} (Slurm job {status.slurm_job_id}); follow it with "
            f"`ftui runs {found.run_id} --follow`, or stop it first."
        )
    finished = found.finished()
    if status.state == "completed" or finished:
        raise UserError(
            f"Run {found.run_id} already completed; to train longer, start a new run with more steps."
        )
    checkpoint = found.last_checkpoint()
    job = submit(found, resume=True)
    where = f"from {checkpoint.name}" if checkpoint else "from the start (no checkpoint yet)"
    words = f"Resubmitted {found.run_id} to Slurm as job {job}, {where}."
    if args.detach:
        emit(
            args,
            {
                "run_id": found.run_id,
                "pid": None,
                "state": "starting",
                "slurm_job_id": job,
                "resumed_from": str(checkpoint) if checkpoint else None,
            },
            words,
        )
        return 0
    print(
        words + " Ctrl-C detaches, the job goes on.", file=sys.stderr if args.json else sys.stdout, flush=True
    )
    return follow_and_report(args, found, from_now=True)
