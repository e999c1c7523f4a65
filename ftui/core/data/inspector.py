"""inspect(): read every row, detect the format, validate, count rows and tokens, and advise."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from ftui.core.data.checker import EXAMPLES_PER_KIND, RowChecker, Tally
from ftui.core.data.convert import detect, render_row
from ftui.core.data.problems import PROBLEM_KINDS, Problem, RowProblem
from ftui.core.data.readers import iter_rows, open_source
from ftui.core.data.report import BLOCKING, ImageStats, InspectionReport, TokenStats
from ftui.core.data.sources import Source, UnreadableDataError
from ftui.core.data.templates import (
    MODEL_TEMPLATE,
    ChatTemplate,
    TemplateRenderError,
    get_template,
    model_template,
)
from ftui.core.data.tokens import LocalTokenizer, find_tokenizer
from ftui.core.plan import TrainingSettings

DEFAULT_MAX_LENGTH = TrainingSettings().seq
TEMPLATE_CHECK_ROWS = 20_000  # rows rendered with a chosen template to find those it refuses (Jinja is slow)


def inspect(
    source: str | os.PathLike[str] | Source,
    *,
    format: str | None = None,
    mapping: Mapping[str, str] | None = None,
    model: str | None = None,
    max_length: int | None = None,
    template: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> InspectionReport:
    """Inspect a dataset. Raises UnreadableDataError (a UserError) when it is not a dataset at all.

    model: a local model folder or a Hub id whose tokenizer.json is in the local cache; without one
    the token counts are an estimate. template: the chat template to count with (default: the
    model's own, from its tokenizer_config.json; no template: the contents plus a per-turn allowance).
    progress: called now and then with (rows checked so far, rows in all or None when not known
    beforehand), so a long inspection can show how far it is.
    """
    started = time.perf_counter()
    opened = source if isinstance(source, Source) else open_source(source)
    detection = detect(opened, format, dict(mapping) if mapping else None)
    limit = max_length or DEFAULT_MAX_LENGTH
    tokenizer = find_tokenizer(model)
    chosen = _counting_template(template, tokenizer, None if model is None else str(model))
    rows_so_far = _progress_reporter(opened, progress)

    family = None
    if detection.vision:
        from ftui.core.data.checker import VisionRowChecker
        from ftui.core.vision import DEFAULT_FAMILY, family_of_model

        models_family = family_of_model(model)
        family = models_family or DEFAULT_FAMILY
        checker: RowChecker = VisionRowChecker(
            detection.format,
            detection.mapping,
            family=family,
            family_is_the_models=models_family is not None,
            base_dir=opened.files[0].parent if opened.files else None,
            max_length=limit,
            tokenizer=tokenizer,
        )
        for row in iter_rows(opened):
            checker.check(row.line, row.value, row.problem, row.raw, row.file_line)
        tally = checker.flush()
    elif opened.kind == "jsonl" and len(opened.files) == 1 and tokenizer is None:
        from ftui.core.data.fast import check_jsonl_parallel

        tally = check_jsonl_parallel(
            opened.files[0], detection.format, detection.mapping, workers, progress=rows_so_far
        )
    else:
        checker = RowChecker(
            detection.format,
            detection.mapping,
            tokenizer=tokenizer,
            render=_renderer(chosen, tokenizer),
            progress=rows_so_far,
        )
        for row in iter_rows(opened):
            checker.check(row.line, row.value, row.problem, row.raw, row.file_line)
        tally = checker.flush()

    if tally.rows == 0:
        raise UnreadableDataError(f"{opened.label} has no rows; give ftui a file with at least one record.")
    if tally.usable == 0 and set(tally.counts) <= {"malformed_json", "not_utf8", "malformed_csv"}:
        raise UnreadableDataError(
            f"None of the {tally.rows:,} rows of {opened.label} can be read; check that it is UTF-8 JSON Lines, a JSON array, CSV or Parquet."
        )
    duplicates = _duplicates(tally)
    tokens, too_long = _token_stats(tally, limit, tokenizer)
    problems = _problems(opened, tally, duplicates, too_long, "" if tokenizer else " (estimated)")
    counts = {kind: count for kind in PROBLEM_KINDS if (count := _count(kind, tally, duplicates, too_long))}
    if template and chosen is not None:
        refused, checked_all = _template_refusals(opened, detection, chosen)
        if refused:
            counts["template_refused"] = len(refused)
            order = {kind: index for index, kind in enumerate(PROBLEM_KINDS)}
            problems = sorted(
                problems + refused[:EXAMPLES_PER_KIND], key=lambda p: (order.get(p.kind, 99), p.line)
            )
        template_note = (
            None
            if checked_all
            else f"the {chosen.name} template was tried on the first {TEMPLATE_CHECK_ROWS:,} rows"
        )
    else:
        template_note = None
    report = InspectionReport(
        source=opened.name,
        kind=opened.kind,
        bytes=opened.size,
        rows=tally.rows,
        usable_rows=tally.usable - counts.get("template_refused", 0),
        format=detection.format,
        confidence=detection.confidence,
        columns=dict(detection.mapping),
        all_columns=list(detection.columns),
        detected_because=detection.reason,
        problems=problems,
        problem_counts=counts,
        problem_lines=sorted(tally.bad_lines),
        tokens=tokens,
        template=chosen.name if chosen and tokenizer else None,
        images=_image_stats(tally, family, model) if family is not None else None,
    )
    report.advice = _advice(report, tally)
    if template_note:
        report.advice.setdefault("notes", []).append(template_note[0].upper() + template_note[1:] + ".")
    report.seconds = time.perf_counter() - started
    return report


def _template_refusals(opened: Source, detection: Any, chosen: ChatTemplate) -> tuple[list[Problem], bool]:
    """The rows the chosen template refuses (its own raise_exception), as the trainer would meet them;
    and whether every row was tried (up to TEMPLATE_CHECK_ROWS)."""
    from ftui.core.data.convert import row_messages
    from ftui.core.data.problems import BadRowError

    refused: list[Problem] = []
    for index, row in enumerate(iter_rows(opened)):
        if index >= TEMPLATE_CHECK_ROWS:
            return refused, False
        try:
            messages = row_messages(row, opened, detection)
            render_row(messages, chosen, bos_token="", eos_token="")
        except BadRowError:
            continue  # already a problem of its own kind
        except TemplateRenderError as error:
            refused.append(
                Problem(
                    row.line,
                    "template_refused",
                    f"{opened.where(row.line, row.file_line)}: the {chosen.name} template refuses this "
                    f"conversation ({error}); {PROBLEM_KINDS['template_refused']}.",
                )
            )
    return refused, True


def _image_stats(tally: Tally, family: Any, model: str | None) -> ImageStats:
    import numpy as np

    def spread(values: Any) -> dict[str, int] | None:
        if not len(values):
            return None
        data = np.frombuffer(values, dtype=np.uint64)
        p50, p95 = (int(v) for v in np.quantile(data, [0.5, 0.95], method="inverted_cdf"))
        return {"p50": p50, "p95": p95, "max": int(data.max())}

    from ftui.core.vision import family_of_model

    return ImageStats(
        rows_with_images=tally.rows_with_images,
        images=tally.images,
        most_per_row=tally.most_images,
        width=spread(tally.widths),
        height=spread(tally.heights),
        image_tokens=spread(tally.image_tokens),
        tokens_for=family.name,
        tokens_for_model=family_of_model(model) is not None,
        outside_folder=tally.outside,
        outside_examples=list(tally.outside_examples),
    )


def _progress_reporter(
    opened: Source, progress: Callable[[int, int | None], None] | None
) -> Callable[[int], None] | None:
    """rows -> progress(rows, total): a JSONL file's rows are counted first (a GB in about a quarter of
    a second), other layouts report rows only."""
    if progress is None:
        return None
    total: int | None = None
    if opened.kind == "jsonl":
        from ftui.core.data.fast import count_lines

        total = sum(count_lines(path) for path in opened.files)
    progress(0, total)
    return lambda rows: progress(rows, total)


def _counting_template(
    name: str | None, tokenizer: LocalTokenizer | None, model: str | None
) -> ChatTemplate | None:
    if name == MODEL_TEMPLATE:
        return model_template(tokenizer, model)
    if name:
        return get_template(name)
    if tokenizer is not None and tokenizer.chat_template:
        return ChatTemplate("the model's own", tokenizer.chat_template, "chat", "eos_token", "", "", "")
    return None


def _renderer(template: ChatTemplate | None, tokenizer: LocalTokenizer | None):
    if tokenizer is None:
        return None
    bos, eos = tokenizer.bos_token, tokenizer.eos_token

    def render(messages: list[dict[str, str]]) -> str:
        if template is not None:
            try:
                return render_row(messages, template, bos_token=bos, eos_token=eos)[0]
            except TemplateRenderError:
                pass  # counted below without the template's markers
        return bos + "\n".join(m["content"] for m in messages) + eos

    return render


def _duplicates(tally: Tally) -> tuple[int, list[tuple[int, int]]]:
    """(how many rows repeat an earlier row exactly, the first few as (line, line of the original))."""
    import numpy as np

    if len(tally.hashes) < 2:
        return 0, []
    hashes = np.frombuffer(tally.hashes, dtype=np.uint64)
    lines = np.frombuffer(tally.lines, dtype=np.uint64)
    order = np.argsort(hashes, kind="stable")  # stable: within equal hashes, file order
    ordered = hashes[order]
    repeats = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
    if not repeats.size:
        return 0, []
    starts = np.where(np.r_[True, ordered[1:] != ordered[:-1]], np.arange(ordered.size), 0)
    np.maximum.accumulate(starts, out=starts)
    repeat_lines = lines[order[repeats]]
    first = np.argsort(repeat_lines, kind="stable")[:EXAMPLES_PER_KIND]
    examples = [(int(repeat_lines[i]), int(lines[order[starts[repeats[i]]]])) for i in first]
    return int(repeats.size), examples


def _token_stats(
    tally: Tally, limit: int, tokenizer: LocalTokenizer | None
) -> tuple[TokenStats | None, tuple[int, list[tuple[int, int]]]]:
    import numpy as np

    if not len(tally.tokens):
        return None, (0, [])
    tokens = np.frombuffer(tally.tokens, dtype=np.uint64)
    lines = np.frombuffer(tally.lines, dtype=np.uint64)
    p50, p95 = (int(v) for v in np.quantile(tokens, [0.5, 0.95], method="inverted_cdf"))
    over = np.flatnonzero(tokens > limit)
    examples = [(int(lines[i]), int(tokens[i])) for i in over[:EXAMPLES_PER_KIND]]
    stats = TokenStats(
        counted_with="tokenizer" if tokenizer else "estimate",
        tokenizer=str(tokenizer.path) if tokenizer else None,
        p50=p50,
        p95=p95,
        max=int(tokens.max()),
        total=int(tokens.sum()),
        mean=float(tokens.mean()),
        max_length=limit,
        over_max_length=int(over.size),
    )
    return stats, (int(over.size), examples)


def _count(kind: str, tally: Tally, duplicates: tuple[int, Any], too_long: tuple[int, Any]) -> int:
    if kind == "duplicate":
        return duplicates[0]
    if kind == "too_long":
        return too_long[0]
    return tally.counts.get(kind, 0)


def _problems(
    source: Source, tally: Tally, duplicates: tuple[int, list], too_long: tuple[int, list], too_long_how: str
) -> list[Problem]:
    found = [
        RowProblem(kind, detail).at(source.where(line, at), line) for line, kind, detail, at in tally.examples
    ]
    unit = source.unit
    for line, original in duplicates[1]:
        found.append(
            RowProblem("duplicate", f"it repeats {unit} {original} exactly").at(source.where(line), line)
        )
    for line, count in too_long[1]:
        found.append(
            RowProblem("too_long", f"it is {count:,} tokens{too_long_how}").at(source.where(line), line)
        )
    order = {kind: index for index, kind in enumerate(PROBLEM_KINDS)}
    return sorted(found, key=lambda p: (order.get(p.kind, 99), p.line))


def _advice(report: InspectionReport, tally: Tally) -> dict[str, Any]:
    notes: list[str] = []
    advice: dict[str, Any] = {"rows_for_training": report.usable_rows}
    blocked = sum(report.problem_counts.get(kind, 0) for kind in BLOCKING)
    if blocked:
        notes.append(
            f"Rows that cannot be trained on as they are: {_rows(blocked)}; fix or delete them before training, which stops at the first (see problems)."
        )
    tokens = report.tokens
    if tokens:
        suggested = 256
        while suggested < tokens.p95 and suggested < 32768:
            suggested *= 2
        advice["max_length"] = suggested
        if suggested > tokens.max_length or suggested * 4 <= tokens.max_length:
            # Too short cuts rows off; far longer than the data needs is memory a larger batch could use.
            effect = (
                "cuts longer rows short"
                if suggested > tokens.max_length
                else "holds memory a larger micro-batch could use"
            )
            notes.append(
                f"A max length of {suggested:,} tokens fits 95% of rows (p95 {tokens.p95:,}); "
                f"the {tokens.max_length:,} asked for {effect}."
            )
        if tokens.over_max_length:
            notes.append(
                f"Rows longer than {tokens.max_length:,} tokens: {_rows(tokens.over_max_length)}; training cuts them short."
            )
    if report.format != "text" and tally.answer_tokens + tally.prompt_tokens:
        share = tally.answer_tokens / (tally.answer_tokens + tally.prompt_tokens)
        advice["answer_share"] = round(share, 3)
        advice["responses_only"] = share < 0.5
        if share < 0.5:
            notes.append(
                f"Answers are {share:.0%} of the text: train on responses only, so the loss counts the answers, not the prompts."
            )
    images = report.images
    if images is not None and images.outside_folder:
        line, given = images.outside_examples[0]
        notes.append(
            f"Images outside the data file's folder: {images.outside_folder:,} (e.g. row {line}: {given}); "
            "they train, but copy them beside the data to move the dataset in one piece."
        )
    if images is not None and not images.tokens_for_model:
        notes.append(
            f"Image tokens are counted as {images.tokens_for} counts them; pass --model for yours "
            "(each family turns an image into a different number of tokens)."
        )
    duplicates = report.problem_counts.get("duplicate", 0)
    if duplicates:
        notes.append(
            f"Exact repeats of earlier rows: {_rows(duplicates)}; drop them unless you mean to weight them."
        )
    advice["notes"] = notes
    return advice


def _rows(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"
