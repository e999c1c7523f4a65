"""`ftui chat RUN --prompt TEXT [--base]`: the fine-tuned model's answer (and the base model's beside it),
streamed as it is generated, from a model process that loads once (see ftui.exporter.chat)."""

from __future__ import annotations

import argparse
import sys

from ftui.commands._output import add_json_flag

ORDER = 76


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "chat",
        help="ask a finished run's model a question, beside its base model with --base",
        description="Put a prompt in the run's chat template and stream the fine-tuned model's answer "
        "(greedy unless --temperature is set); with --base the base model answers the same prompt after it. "
        "The model loads in a separate process; one that does not fit the free GPU memory (or, without a "
        "GPU, the RAM) is refused with the estimate.",
    )
    parser.add_argument("run", help="a run id, a unique part of one, `last`, or a run folder")
    parser.add_argument("--prompt", required=True, help="what to ask (the user's turn)")
    parser.add_argument("--base", action="store_true", help="also answer with the base model")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 (default) is greedy")
    parser.add_argument("--max-new-tokens", type=int, default=256, help="answer length limit (default 256)")
    parser.add_argument(
        "--runs-dir", help="where runs are kept (default $FTUI_RUNS_DIR or ~/.local/share/ftui/runs)"
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftui.commands._output import emit
    from ftui.core.chat import ChatProcess, plan_chat
    from ftui.core.errors import UsageError
    from ftui.core.exports import read_run

    if args.temperature < 0:
        raise UsageError(f"--temperature must be 0 (greedy) or more, not {args.temperature}.")
    if args.max_new_tokens < 1:
        raise UsageError(f"--max-new-tokens must be at least 1, not {args.max_new_tokens}.")
    if not args.prompt.strip():
        raise UsageError("--prompt is empty; ask something.")
    found = read_run(args.run, args.runs_dir, purpose="chat with")
    # The prompt's tokens are not known before the tokenizer loads: 4 characters a token is generous.
    plan = plan_chat(found, with_base=args.base, tokens=len(args.prompt) // 2 + 64 + args.max_new_tokens)
    err = sys.stderr
    print(
        f"Loading {found.run_id} on the {plan.device} (about {plan.estimate_gib:.1f} GiB); base: {plan.base_why}",
        file=err,
        flush=True,
    )
    log_file = found.path / "chat.log"
    with open(log_file, "ab") as log:
        process = ChatProcess(plan, with_base=args.base, log=log)
        try:
            ready = process.wait_ready()
            models = ["tuned", "base"] if args.base else ["tuned"]
            answers = []
            for event in process.ask(
                args.prompt, models=models, temperature=args.temperature, max_new_tokens=args.max_new_tokens
            ):
                if args.json:
                    if event["event"] == "done":
                        answers.append({k: v for k, v in event.items() if k not in ("event", "id")})
                    continue
                if event["event"] == "start":
                    label = "fine-tuned" if event["model"] == "tuned" else "base"
                    sys.stdout.write(f"{label}> ")
                elif event["event"] == "token":
                    sys.stdout.write(event["text"])
                elif event["event"] == "done":
                    sys.stdout.write(
                        f"\n[{event['new_tokens']} tokens in {event['seconds']} s, {event['stopped']}]\n"
                    )
                sys.stdout.flush()
        finally:
            process.close()
    if args.json:
        emit(
            args,
            {
                "run_id": found.run_id,
                "prompt": args.prompt,
                "temperature": args.temperature,
                "max_new_tokens": args.max_new_tokens,
                "device": ready.get("device"),
                "load_seconds": ready.get("seconds"),
                "estimate_gib": plan.estimate_gib,
                "base_weights": str(plan.base_dir),
                "answers": answers,
            },
            "",
        )
    return 0
