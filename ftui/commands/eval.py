"""`ftui eval RUN`: held-out loss of the base model and of the fine-tuned model on the run's eval split."""

from __future__ import annotations

import argparse

from ftui.commands._output import add_json_flag

ORDER = 77


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "eval",
        help="held-out loss of the base model and of a finished run, on the run's eval split",
        description="Compute the mean loss per token on the rows the run held out (--eval-split), once with "
        "the base model and once with the fine-tuned one, in a separate process, so you see what the "
        "fine-tune bought; the run's last logged eval_loss is shown beside them.",
    )
    parser.add_argument("run", help="a run id, a unique part of one, `last`, or a run folder")
    parser.add_argument(
        "--runs-dir", help="where runs are kept (default $FTUI_RUNS_DIR or ~/.local/share/ftui/runs)"
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import subprocess
    import sys

    from ftui.commands._output import emit
    from ftui.core.chat import plan_chat
    from ftui.core.errors import UserError
    from ftui.core.exports import read_run

    found = read_run(args.run, args.runs_dir)
    if not found.eval_split:
        raise UserError(
            f"Run {found.run_id} held out no rows (eval_split 0), so there is no held-out loss; "
            "train with --eval-split 0.1 to measure one."
        )
    plan = plan_chat(found, with_base=True, tokens=found.seq)
    print(
        f"Evaluating {found.run_id} on the {plan.device}; base: {plan.base_why}", file=sys.stderr, flush=True
    )
    command = [
        found.python or sys.executable,
        "-m",
        "ftui.exporter.evaluate",
        str(found.path),
        "--base-weights",
        str(plan.base_dir),
    ]
    env = None
    if plan.device == "cpu":
        import os

        env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    with open(found.path / "eval.log", "ab") as log:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise UserError(f"The evaluation failed; see {found.path / 'eval.log'}.")
    measured = json.loads(lines[-1])
    if measured.get("error") == "no_eval_rows":
        raise UserError(f"Run {found.run_id}'s eval split has no rows; train with a larger --eval-split.")
    payload = {
        "run_id": found.run_id,
        **measured,
        "logged_eval_loss": found.last_eval_loss,
        "base_weights": str(plan.base_dir),
    }

    def text() -> str:
        gain = payload["base_loss"] - payload["run_loss"]
        logged_text = (
            ""
            if payload["logged_eval_loss"] is None
            else f" (the run logged {payload['logged_eval_loss']:.4f})"
        )
        return (
            f"{found.run_id}: held-out loss on {payload['rows']} rows ({payload['tokens']} tokens)\n"
            f"  base model   {payload['base_loss']:.4f}\n"
            f"  fine-tuned   {payload['run_loss']:.4f}{logged_text}\n"
            f"  {'better' if gain > 0 else 'worse'} by {abs(gain):.4f} nats per token"
        )

    emit(args, payload, text)
    return 0
