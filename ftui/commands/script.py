"""`ftui script CONFIG.toml`: print the run as a standalone Unsloth script (or write it with -o)."""

from __future__ import annotations

import argparse

ORDER = 75


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "script",
        help="print a standalone Unsloth script equivalent to a run config",
        description="Print a readable Python script that trains what CONFIG.toml describes with Unsloth, "
        "TRL and datasets alone, to run anywhere. CONFIG.toml may be a run's config.toml or a run id.",
    )
    parser.add_argument("config", help="a run config (TOML), a run folder, or a run id")
    parser.add_argument("-o", "--output", help="write the script to this file instead of printing it")
    parser.add_argument("--runs-dir", help="where runs are kept (for a run id)")
    parser.add_argument(
        "--slurm",
        action="store_true",
        help="write the Slurm batch job instead (srun starts torchrun on each node); for a CONFIG.toml "
        "this makes the run folder the job writes into",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os
    import sys
    from pathlib import Path

    from ftui.core import fs
    from ftui.core.run_config import RunConfig, resolve
    from ftui.core.script import generate_script

    path = Path(args.config)
    if args.slurm:
        return _slurm(args, path)
    if fs.is_regular_file(path) or fs.is_special(path):
        config = resolve(RunConfig.read(path), base_dir=path.resolve().parent)
    else:
        from ftui.core.runs import find_run

        config = find_run(args.config, args.runs_dir).config()
    text = generate_script(config)
    if args.output:
        from ftui.core.errors import UserError

        target = Path(args.output)
        try:
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(target, 0o755)
        except OSError as error:
            raise UserError(
                f"Cannot write the script to {args.output} ({error.strerror or error}); give a file in a folder "
                "that exists and has room, or leave out -o to print it."
            ) from None
        print(f"Wrote {args.output}; run it with `python {args.output}`.", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _slurm(args: argparse.Namespace, path) -> int:
    """The run as a Slurm batch job: for a run, its job; for a config, a new run folder waiting for sbatch."""
    import os
    import sys
    from pathlib import Path

    from ftui.core.run_config import RunConfig, resolve
    from ftui.core.runs import create_run, find_run
    from ftui.core.slurm import SCRIPT_NAME, sbatch_script, write_script

    if path.is_file():
        config = resolve(RunConfig.read(path), base_dir=path.resolve().parent)
        made = create_run(config, args.runs_dir)
        script = write_script(config, made)
        made.update_status(phase=f"waiting for `sbatch {script}`", slurm_state="UNSUBMITTED")
        print(
            f"Made run {made.run_id} in {made.path} for the job; submit it with `sbatch {script}`.",
            file=sys.stderr,
        )
        text = script.read_text(encoding="utf-8")
    else:
        found = find_run(args.config, args.runs_dir)
        written = found.path / SCRIPT_NAME
        text = (
            written.read_text(encoding="utf-8") if written.is_file() else sbatch_script(found.config(), found)
        )
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        os.chmod(args.output, 0o755)
        print(f"Wrote {args.output}; submit it with `sbatch {args.output}`.", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
