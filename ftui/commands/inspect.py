"""`ftui inspect`: check a dataset before a GPU minute is spent, and show what the model will train on."""

from __future__ import annotations

import argparse

from ftui.commands import _types as types
from ftui.commands._output import add_json_flag, emit
from ftui.core.plan import DATA_FORMATS

ORDER = 45


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "inspect",
        help="check a dataset: format, every row's problems, rows and tokens, the exact training text",
        description="Read a dataset (JSONL, JSON array, CSV/TSV, Parquet, or a Hugging Face dataset id), "
        "detect its format, validate every row and count rows and tokens. Exit 0 when it is readable "
        "(problems are listed), 1 when it is not a dataset.",
    )
    parser.add_argument(
        "path",
        metavar="PATH",
        type=types.text("a dataset path or id"),
        help="a data file, a folder of them, or a Hugging Face dataset id",
    )
    parser.add_argument(
        "--format",
        choices=DATA_FORMATS,
        help="the format, when detection gets it wrong",
    )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="map a format field to your column, e.g. --map instruction=question --map output=answer",
    )
    parser.add_argument(
        "--model",
        type=types.text("a model name or folder"),
        help="a local model folder or Hub id: its tokenizer counts tokens when it is on this machine",
    )
    parser.add_argument(
        "--max-length",
        type=types.COUNT,
        metavar="N",
        help="max tokens per row (default 2048): longer rows are reported",
    )
    parser.add_argument(
        "--template",
        type=types.text("a template name or .jinja file"),
        help="chat template to count tokens with and to preview (e.g. llama-3.1, chatml, alpaca; model: the model's own)",
    )
    parser.add_argument(
        "--preview",
        type=types.COUNT_OR_ZERO,
        default=0,
        metavar="N",
        help="show the training text of the first N rows (with --template, or --model's own template)",
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftui.core.data import inspect, preview
    from ftui.core.data.formats import parse_mapping
    from ftui.core.errors import UsageError

    if args.max_length is not None and args.max_length < 1:
        raise UsageError("--max-length must be a positive number of tokens.")
    if args.model:
        from ftui.core.run_config import check_local

        check_local("model", args.model)
    mapping = parse_mapping(args.map) or None
    report = inspect(
        args.path,
        format=args.format,
        mapping=mapping,
        model=args.model,
        max_length=args.max_length,
        template=args.template,
    )
    payload = report.to_json()
    shown: list[str] = []
    if args.preview and report.images is not None:
        shown = _vision_preview(args.path, report, args.preview)
        payload["preview"] = shown
    elif args.preview and not args.template and not args.model:
        raise UsageError(
            "--preview needs --template (e.g. --template chatml), or --model to use the model's own, "
            "to know what text to show."
        )
    elif args.preview:
        from ftui.core.data.templates import MODEL_TEMPLATE, model_template
        from ftui.core.data.tokens import find_tokenizer

        # The model's own EOS when its tokenizer is here; otherwise a visible stand-in, never a guess.
        # No BOS: the tokenizer adds its own when the trainer tokenizes.
        tokenizer = find_tokenizer(args.model)
        eos = tokenizer.eos_token if tokenizer and tokenizer.eos_token else "<eos>"
        # With --model and no --template, the model's own template, as `ftui train --template model`.
        wanted = args.template or MODEL_TEMPLATE
        shown = preview(
            args.path,
            template=model_template(tokenizer, args.model) if wanted == MODEL_TEMPLATE else wanted,
            n=args.preview,
            format=report.format,
            mapping=report.columns,
            eos_token=eos,
        )
        payload["preview"] = shown

    def text() -> str:
        out = report.to_text()
        how = "images and turns" if report.images is not None else (args.template or "model")
        for index, sample in enumerate(shown, 1):
            out += f"\n--- training text {index} ({how}) ---\n{sample}"
        return out

    emit(args, payload, text)
    return 0


def _vision_preview(path: str, report, count: int) -> list[str]:
    """A vision row as text: its images (where they are) and its turns, <image> where each image sits; the
    model's processor renders the rest (its template places the image tokens)."""
    from itertools import islice

    from ftui.core.data.convert import vision_examples
    from ftui.core.data.formats import text_of_parts

    shown = []
    for example in islice(
        vision_examples(path, format=report.format, mapping=report.columns, skip_bad_rows=True), count
    ):
        lines = [f"image {i}: {ref.given}" for i, ref in enumerate(example.images, 1)]
        lines += [f"{m['role']}: {text_of_parts(m['content'])}" for m in example.messages]
        shown.append("\n".join(lines))
    return shown
