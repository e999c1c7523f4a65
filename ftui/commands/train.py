"""`ftui train [CONFIG.toml] [flags]`: fine-tune headless in a detached process and follow it."""

from __future__ import annotations

import argparse

from ftui.commands import _types as types
from ftui.commands._output import add_json_flag
from ftui.core.plan import METHODS, SHARDING

ORDER = 70
# --finetune-X / --no-finetune-X -> TrainingSettings.finetune_X_... (vision runs only)
PARTS = {
    "vision": "the image tower's layers",
    "language": "the language model's layers",
    "attention": "attention (q, k, v, o) in the chosen layers",
    "mlp": "the MLP in the chosen layers",
}
SETTING_OF_PART = {
    "vision": "finetune_vision_layers",
    "language": "finetune_language_layers",
    "attention": "finetune_attention_modules",
    "mlp": "finetune_mlp_modules",
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "train",
        help="fine-tune a model with Unsloth (headless); the run goes on if you disconnect",
        description="Fine-tune a model with Unsloth in a detached process (it survives ftui exiting and "
        "SSH dropping), print progress, and end with the run's state. A CONFIG.toml (a run's config.toml, "
        "or `ftui script`'s input) gives every setting; flags override it.",
    )
    parser.add_argument("config", nargs="?", help="a run config (TOML); flags override it")
    parser.add_argument(
        "--model",
        type=types.text("a model name or folder"),
        help="catalog name, Hub repo id or local model folder",
    )
    parser.add_argument(
        "--data",
        type=types.text("a dataset file or id"),
        help="dataset file (JSONL, JSON, CSV, Parquet) or HF dataset id",
    )
    parser.add_argument("--method", choices=METHODS, help="QLoRA 4-bit (default), LoRA 16-bit, full")
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument("--max-steps", type=types.COUNT, help="optimizer steps to train (wins over epochs)")
    steps.add_argument("--epochs", type=types.EPOCHS, help="passes over the data (default 1)")
    parser.add_argument(
        "--batch",
        type=types.COUNT,
        help="micro-batch per GPU (default: ftui's fastest split; with it, yours)",
    )
    parser.add_argument(
        "--grad-accum",
        type=types.COUNT,
        help="gradient accumulation steps (default: ftui's fastest split; with it, yours)",
    )
    parser.add_argument(
        "--effective-batch",
        type=types.COUNT,
        metavar="N",
        help="rows per optimizer step over every GPU (default 8); ftui splits it into the fastest "
        "micro-batch x accumulation that fits the GPU",
    )
    parser.add_argument("--seq", type=types.COUNT, help="max length in tokens (default 2048)")
    parser.add_argument("--lr", type=types.LEARNING_RATE, help="learning rate (default 2e-4)")
    parser.add_argument("--rank", type=types.COUNT, help="LoRA rank (default 16)")
    parser.add_argument("--alpha", type=types.COUNT, help="LoRA alpha (default 16)")
    parser.add_argument(
        "--eval-split", type=types.FRACTION, help="fraction of rows held out for eval_loss (default 0)"
    )
    parser.add_argument("--save-steps", type=types.COUNT, help="save a checkpoint every N steps (default 50)")
    parser.add_argument(
        "--optimizer",
        type=types.text("an optimizer name", 100),
        help="e.g. adamw_8bit (default), adamw_torch",
    )
    parser.add_argument(
        "--responses-only", action="store_true", default=None, help="train on the answers only"
    )
    parser.add_argument(
        "--save-merged", action="store_true", default=None, help="also save a merged 16-bit model"
    )
    parser.add_argument("--gguf", metavar="QUANT", help="also export GGUF, e.g. q4_k_m (needs llama.cpp)")
    parser.add_argument(
        "--template",
        help="chat template or prompt (chatml, llama-3.1, alpaca, ..., a .jinja file, "
        "or `model` for the model's own)",
    )
    parser.add_argument("--format", help="dataset format, when detection should be overridden")
    parts = parser.add_argument_group(
        "vision models", "which parts get LoRA adapters (Unsloth's FastVisionModel flags; all on by default)"
    )
    for flag, what in PARTS.items():
        parts.add_argument(
            f"--finetune-{flag}", action=argparse.BooleanOptionalAction, default=None, help=what
        )
    parser.add_argument("--name", type=types.text("a name", 100), help="a label for the run (part of its id)")
    parser.add_argument(
        "--python",
        type=types.text("a path to a Python"),
        help="the Python that trains (an env with Unsloth); default: this one",
    )
    parser.add_argument(
        "--gpus",
        help="GPU indices, e.g. 0,1 (several: torchrun, a process per GPU; per machine with --nodes)",
    )
    several = parser.add_argument_group("several GPUs and machines")
    several.add_argument(
        "--sharding",
        choices=SHARDING,
        help="several GPUs: ddp (a whole model copy per GPU), fsdp (sharded over them), auto (default: "
        "ddp when the estimate fits one GPU, else fsdp)",
    )
    several.add_argument(
        "--nodes", type=types.COUNT, help="machines in the job (default 1); start the others with --join"
    )
    several.add_argument(
        "--rdzv-endpoint",
        metavar="HOST:PORT",
        type=types.text("host:port", 300),
        help="where the machines meet (torchrun's c10d rendezvous; default this machine and a port of the run)",
    )
    several.add_argument(
        "--join-timeout",
        type=types.COUNT,
        metavar="S",
        help="seconds to wait for every machine to join (default 600)",
    )
    several.add_argument(
        "--collective-timeout",
        type=types.COUNT,
        metavar="S",
        help="seconds a collective (NCCL/gloo) may wait before the run fails (default 600)",
    )
    several.add_argument(
        "--join",
        metavar="RUN",
        type=types.text("a run"),
        help="join a run on several machines from this one (with --node K)",
    )
    several.add_argument("--node", type=types.COUNT, help="with --join: this machine's number, 1 to nodes-1")
    several.add_argument(
        "--slurm", action="store_true", help="submit the run to Slurm with sbatch (srun starts each node)"
    )
    several.add_argument(
        "--slurm-option",
        action="append",
        metavar="OPT",
        type=types.text("an sbatch option", 300),
        help="an sbatch option for --slurm, e.g. --slurm-option=--partition=gpu (repeatable)",
    )
    parser.add_argument(
        "--runs-dir", help="where runs are kept (default $FTUI_RUNS_DIR or ~/.local/share/ftui/runs)"
    )
    parser.add_argument(
        "--skip-bad-rows",
        action="store_true",
        default=None,
        help="leave out rows that cannot be trained on (the preflight lists them) instead of refusing to start",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="start even when the preflight says it will not fit, is too slow on a CPU, or cannot reach the Hub",
    )
    parser.add_argument("--detach", action="store_true", help="start the run and return at once")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def build_config(args: argparse.Namespace):  # -> RunConfig
    from pathlib import Path

    from ftui.core.errors import UsageError
    from ftui.core.run_config import RunConfig, parse_gpus, resolve

    overrides = dict(
        model=args.model,
        data=args.data,
        method=args.method,
        max_steps=args.max_steps,
        epochs=args.epochs,
        batch=args.batch,
        grad_accum=args.grad_accum,
        seq=args.seq,
        learning_rate=args.lr,
        rank=args.rank,
        alpha=args.alpha,
        eval_split=args.eval_split,
        save_steps=args.save_steps,
        optimizer=args.optimizer,
        responses_only=args.responses_only,
        skip_bad_rows=args.skip_bad_rows,
        save_merged=args.save_merged,
        save_gguf=args.gguf,
        template=args.template,
        format=args.format,
        name=args.name,
        python=args.python,
        gpus=parse_gpus(args.gpus),
        **{SETTING_OF_PART[part]: getattr(args, f"finetune_{part}") for part in PARTS},
        sharding=args.sharding,
        nodes=args.nodes,
        rdzv_endpoint=args.rdzv_endpoint,
        join_timeout_s=args.join_timeout,
        collective_timeout_s=args.collective_timeout,
        slurm_options=tuple(args.slurm_option) if args.slurm_option else None,
    )
    # An explicit split is the user's: ftui keeps it as written (auto_batch off).
    if args.batch is not None or args.grad_accum is not None:
        overrides["auto_batch"] = False
    base_dir = None
    if args.config:
        config = RunConfig.read(args.config)
        base_dir = Path(args.config).resolve().parent
        # A run's own config.toml names the repo it resolved; a new --method resolves it again.
        config = config.with_overrides(**{k: v for k, v in overrides.items() if k not in ("model", "data")})
        if args.model or args.data:
            config = config.with_overrides(model=args.model, data=args.data)
            if args.model:
                config.repo = None
                config.template = args.template
    else:
        if not args.model or not args.data:
            raise UsageError("ftui train needs a CONFIG.toml, or both --model and --data.")
        config = RunConfig(model=args.model, data=args.data).with_overrides(
            **{k: v for k, v in overrides.items() if k not in ("model", "data")}
        )
    config = resolve(config, base_dir=base_dir, method_changed=args.method is not None)
    if args.effective_batch is not None:
        config = config.with_overrides(**_rows_per_step(config, args.effective_batch))
    return config


def _rows_per_step(config, rows: int) -> dict:
    """--effective-batch as settings: the rows each GPU takes a step, split as the micro-batch allows."""
    from ftui.core.errors import UsageError

    settings = config.settings
    gpus = max(1, len(settings.gpus))
    if rows % gpus:
        raise UsageError(
            f"--effective-batch {rows} does not divide among {gpus} GPUs; give a multiple of {gpus}."
        )
    per_gpu = rows // gpus
    if not settings.auto_batch:  # the micro-batch is the user's: the accumulation makes up the rows
        if per_gpu % settings.batch:
            raise UsageError(
                f"--effective-batch {rows} is not a multiple of the micro-batch {settings.batch} x {gpus} GPUs; "
                "give a multiple, or leave --batch out and let ftui split it."
            )
        return {"grad_accum": per_gpu // settings.batch}
    batch = settings.batch if per_gpu % settings.batch == 0 else 1
    return {"batch": batch, "grad_accum": per_gpu // batch}


def choose_split(config):  # -> (RunConfig, BatchChoice)
    """The run's micro-batch x accumulation for this machine's GPU (the first the run trains on)."""
    import dataclasses

    from ftui.core.batching import choose_for_run

    gpu_name, vram = None, None
    try:
        from ftui.core.hardware import probe

        gpus = probe(processes=False).gpus
    except Exception:  # a broken driver is the trainer's to report; the split stays as set
        gpus = []
    wanted = config.settings.gpus[0] if config.settings.gpus else None
    for gpu in gpus:
        if wanted is None or gpu.index == wanted:
            gpu_name, vram = gpu.name, gpu.memory_total_gib
            break
    choice = choose_for_run(config, vram_gib=vram, gpu=gpu_name, gpus=max(1, len(config.settings.gpus)))
    return dataclasses.replace(config, settings=choice.settings(config.settings)), choice


def run(args: argparse.Namespace) -> int:
    import sys

    from ftui.commands._follow import follow_and_report
    from ftui.commands._output import emit
    from ftui.core.launch import join_command, plan_launch
    from ftui.core.runs import create_run, start
    from ftui.core.runs.process import ensure_runs_root

    if args.join or args.node is not None:
        return _join(args)
    config, choice = choose_split(build_config(args))
    # Where the run would go comes first: without it nothing else can happen, whatever the checks say.
    ensure_runs_root(args.runs_dir)
    # A Slurm job runs on a node this machine cannot check; the trainer checks the data there.
    if not args.slurm and not preflight_passes(args, config):
        return 1
    if args.slurm:
        from ftui.core.errors import UserError
        from ftui.core.slurm import sbatch_missing

        missing = sbatch_missing()
        if missing:
            raise UserError(missing)
    plan = plan_launch(config)
    out = sys.stderr if args.json else sys.stdout
    print(f"Batch: {choice.reason}", file=out, flush=True)
    created = create_run(config, args.runs_dir)
    joins = [join_command(created, k) for k in range(1, config.settings.nodes)]
    launch = _launch_words(plan)
    if args.slurm:
        from ftui.core.slurm import submit

        job = submit(created)
        payload: dict[str, object] = {
            "run_id": created.run_id,
            "path": str(created.path),
            "pid": None,
            "state": "starting",
            "slurm_job_id": job,
            "sharding": plan.sharding,
            "sharding_reason": plan.reason,
            "node_commands": [],
        }
        words = f"Submitted {created.run_id} to Slurm as job {job} ({launch}); output in {created.path}."
        if args.detach:
            emit(args, payload, words + f"\nFollow it with `ftui runs {created.run_id} --follow`.")
            return 0
        print(words + " Ctrl-C detaches, the job goes on.", file=out, flush=True)
        return follow_and_report(args, created)
    process = start(created)
    if args.detach:
        payload = {
            "run_id": created.run_id,
            "path": str(created.path),
            "pid": process.pid,
            "state": "starting",
            "sharding": plan.sharding,
            "sharding_reason": plan.reason if plan.sharding else None,
            "node_commands": joins,
        }
        emit(
            args,
            payload,
            f"Started {created.run_id} (pid {process.pid}, {launch}) in {created.path}.\n"
            + "".join(
                f"Start node {k} on its machine with `{cmd}`.\n" for k, cmd in enumerate(joins, start=1)
            )
            + f"Follow it with `ftui runs {created.run_id} --follow`; stop it with `ftui stop {created.run_id}`.",
        )
        return 0
    print(
        f"Run {created.run_id} in {created.path} (pid {process.pid}, {launch}); Ctrl-C detaches, the run goes on.",
        file=out,
        flush=True,
    )
    for k, command in enumerate(joins, start=1):
        print(f"Start node {k} on its machine with: {command}", file=out, flush=True)
    return follow_and_report(args, created, process)


def _launch_words(plan) -> str:
    """'2 processes, sharded (Unsloth's FSDP2): <why>' for the first line of `ftui train`."""
    if plan.world_size == 1:
        return "one process"
    machines = f" on each of {plan.nodes} machines" if plan.nodes > 1 else ""
    return f"{plan.per_node} process(es){machines}; {plan.reason}"


def _join(args: argparse.Namespace) -> int:
    """`ftui train --join RUN --node K`: this machine's part of a run on several."""
    import socket
    import sys

    from ftui.commands._follow import follow_and_report
    from ftui.core.errors import UsageError
    from ftui.core.launch import join
    from ftui.core.run_config import parse_gpus
    from ftui.core.runs import find_run

    if not args.join or args.node is None:
        raise UsageError("--join RUN and --node K go together: `ftui train --join RUN --node 1`.")
    run = find_run(args.join, args.runs_dir)
    process = join(run, args.node, gpus=parse_gpus(args.gpus))
    out = sys.stderr if args.json else sys.stdout
    if args.detach:
        from ftui.commands._output import emit

        payload = {
            "run_id": run.run_id,
            "path": str(run.path),
            "pid": process.pid,
            "state": "starting",
            "node": args.node,
        }
        emit(
            args,
            payload,
            f"Node {args.node} of {run.run_id} started on {socket.gethostname()} (pid {process.pid}).",
        )
        return 0
    print(
        f"Node {args.node} of {run.run_id} started on {socket.gethostname()} (pid {process.pid}); "
        "Ctrl-C detaches, the run goes on.",
        file=out,
        flush=True,
    )
    return follow_and_report(args, run, process, from_now=True)


def preflight_passes(args: argparse.Namespace, config) -> bool:
    """Run the preflight (ftui.core.preflight) before any run directory exists: a warning is printed and
    the run goes on; a blocking check is one sentence each on stderr, and nothing is created."""
    import json
    import sys

    from ftui.core.preflight import preflight

    result = preflight(config, runs_dir=args.runs_dir)
    blocking = result.blocking(force=args.force)
    for check in result.checks:
        if check.verdict == "warn" or (check.verdict == "block" and check not in blocking):
            print(f"preflight: {check.sentence}", file=sys.stderr, flush=True)
    if not blocking:
        return True
    if args.json:
        json.dump({"preflight": result.to_json()}, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    for check in blocking:
        how = {
            "force": " (--force starts it anyway)",
            "skip_bad_rows": " (--skip-bad-rows leaves them out)",
        }.get(check.override or "", "")
        print(f"ftui: {check.sentence}{how}", file=sys.stderr)
        for line in check.details:
            print(f"  {line}", file=sys.stderr)
    print("ftui: nothing was started; no run directory was made.", file=sys.stderr, flush=True)
    return False
