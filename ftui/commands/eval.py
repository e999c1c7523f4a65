"""`ftui eval RUN`: held-out loss of the base model and of the fine-tuned model on the run's eval split, and
the base model's answers to its held-out prompts (kept in RUN/base_eval.json for the app)."""

from __future__ import annotations

import argparse

from ftui.commands._output import add_json_flag

ORDER = 77


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "eval",
        help="held-out loss of the base model and of a finished run, and the base model's answers",
        description="Compute the mean loss per token on the rows the run held out (--eval-split), once with "
        "the base model and once with the fine-tuned one, in a separate process, so you see what the "
        "fine-tune bought; the run's last logged eval_loss is shown beside them. The base model also "
        "answers the run's held-out prompts, beside the run's own answers. The result is kept in "
        "RUN/base_eval.json, where the app's runs step reads it.",
    )
    parser.add_argument("run", help="a run id, a unique part of one, `last`, or a run folder")
    parser.add_argument(
        "--runs-dir", help="where runs are kept (default $FTUI_RUNS_DIR or ~/.local/share/ftui/runs)"
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from ftui.commands._output import emit
    from ftui.core.base_eval import LOG, check_evaluable, start_evaluation
    from ftui.core.chat import plan_chat
    from ftui.core.errors import UserError
    from ftui.core.exports import read_run
    from ftui.core.text import one_line

    found = read_run(args.run, args.runs_dir, purpose="evaluate")
    check_evaluable(found)
    plan = plan_chat(found, with_base=True, tokens=found.seq)
    print(
        f"Evaluating {found.run_id} on the {plan.device}; base: {plan.base_why}", file=sys.stderr, flush=True
    )
    process = start_evaluation(found, plan.base_dir, plan.device, detach=False)
    stdout, _ = process.communicate()
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        raise UserError(f"The evaluation failed; see {found.path / LOG}.")
    measured = json.loads(lines[-1])
    if measured.get("error") == "no_eval_rows":
        raise UserError(f"Run {found.run_id}'s eval split has no rows; train with a larger --eval-split.")
    payload = {**measured, "base_weights": str(plan.base_dir)}

    def text() -> str:
        if payload["base_loss"] is None or payload["run_loss"] is None:
            lines = [f"{found.run_id}: no held-out rows (eval_split 0), so no held-out loss"]
        else:
            gain = payload["base_loss"] - payload["run_loss"]
            logged_text = (
                ""
                if payload["logged_eval_loss"] is None
                else f" (the run logged {payload['logged_eval_loss']:.4f})"
            )
            lines = [
                f"{found.run_id}: held-out loss on {payload['rows']} rows ({payload['tokens']} tokens)",
                f"  base model   {payload['base_loss']:.4f}",
                f"  fine-tuned   {payload['run_loss']:.4f}{logged_text}",
                f"  {'better' if gain > 0 else 'worse'} by {abs(gain):.4f} nats per token",
            ]
        run_answers = {s.get("line"): s.get("output", "") for s in found.samples}
        for answer in payload["base_samples"]:
            lines.append(f"prompt (line {answer['line']}): {one_line(answer['prompt'], 90)}")
            lines.append(f"  fine-tuned: {one_line(run_answers.get(answer['line'], ''), 90)}")
            lines.append(f"  base:       {one_line(answer['output'], 90)}")
        return "\n".join(lines)

    emit(args, payload, text)
    return 0
