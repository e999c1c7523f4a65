"""Rows to training text: exactly the string the trainer tokenizes, and the prompt before the first answer.

Chat-shaped rows (every format but plain text) become messages and are rendered with the chosen
template: an instruct model's own chat template, or the Alpaca / Vicuna prompt for a base model.
Plain-text rows are trained on as they are, followed by the EOS token so the model learns to stop.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from ftui.core.data.formats import Detection, detect_format, resolve, to_messages
from ftui.core.data.problems import BadRowError, Problem, RowProblem
from ftui.core.data.readers import iter_rows, open_source
from ftui.core.data.sources import RawRow, Source, UnreadableDataError
from ftui.core.data.templates import ChatTemplate, TemplateRenderError, get_template

DETECT_SAMPLE = 200  # rows read to decide the format


@dataclass(frozen=True)
class TrainingText:
    line: int  # 1-based line (row for Parquet / Hub datasets) in the source
    text: str  # exactly what the model is trained on
    prompt: str  # the part of `text` before the first answer (for responses-only masking)


def detect(source: Source, format: str | None = None, mapping: Mapping[str, str] | None = None) -> Detection:
    """The format and column mapping of `source` (the user's choice wins), or an error saying what to do."""
    sample = [row.value for row in islice(iter_rows(source), DETECT_SAMPLE) if isinstance(row.value, Mapping)]
    if not sample and not format:
        raise UnreadableDataError(
            f"None of the first rows of {source.label} could be read as a record; check that it is JSON objects, "
            "a JSON array of objects, CSV with a header, or Parquet."
        )
    columns = tuple(dict.fromkeys(str(key) for row in sample for key in row))
    found = resolve(detect_format(sample), format, mapping, columns)
    if found is None:
        shown = ", ".join(columns[:12]) or "none"
        raise UnreadableDataError(
            f"ftui does not recognise the format of {source.label} (columns: {shown}); "
            "say which it is with --format and --map, e.g. --format alpaca --map instruction=question,output=answer."
        )
    return found


def row_messages(row: RawRow, source: Source, detection: Detection) -> list[dict[str, str]]:
    """The row as messages, or BadRowError naming the row and the fix."""
    if row.problem is not None:
        raise BadRowError(RowProblem(*row.problem).at(source.where(row.line, row.file_line), row.line))
    try:
        return to_messages(row.value, detection.format, detection.mapping)
    except RowProblem as problem:
        raise BadRowError(problem.at(source.where(row.line, row.file_line), row.line)) from None


def render_row(
    messages: list[dict[str, str]], template: ChatTemplate | None, *, bos_token: str = "", eos_token: str = ""
) -> tuple[str, str]:
    """(text, prompt) for one row's messages. Raises TemplateRenderError if the template refuses them."""
    if messages and messages[0]["role"] == "text":
        return bos_token + messages[0]["content"] + eos_token, ""
    if template is None:
        raise ValueError("a chat-shaped row needs a template")
    text = template.render(messages, bos_token=bos_token, eos_token=eos_token)
    return text, _prompt_of(messages, template, text, bos_token, eos_token)


_ANSWER_PROBE = "\u2060FTUI-ANSWER\u2060"


def _prompt_of(messages: list[dict[str, str]], template: ChatTemplate, text: str, bos: str, eos: str) -> str:
    # Render once more with the first answer replaced by a probe; everything before the probe is the
    # prompt, whatever the template puts between the question and the answer (headers, think blocks).
    first = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
    probed = [*messages[:first], {**messages[first], "content": _ANSWER_PROBE}, *messages[first + 1 :]]
    try:
        rendered = template.render(probed, bos_token=bos, eos_token=eos)
    except TemplateRenderError:
        rendered = ""
    cut = rendered.find(_ANSWER_PROBE)
    if cut >= 0 and text.startswith(rendered[:cut]):
        return rendered[:cut]
    # Otherwise: up to the first response marker.
    marker = text.find(template.response_part)
    return text[: marker + len(template.response_part)] if marker >= 0 else ""


def training_texts(
    source: str | os.PathLike[str] | Source,
    *,
    template: str,
    format: str | None = None,
    mapping: dict[str, str] | None = None,
    bos_token: str = "",
    eos_token: str = "",
    skip_bad_rows: bool = False,
) -> Iterator[TrainingText]:
    """Every row of `source` as the text the model is trained on, in order.

    A row that cannot be converted raises BadRowError (a UserError) naming the row and the fix; run
    `ftui inspect` first to see every problem at once. With skip_bad_rows=True such rows are left
    out instead (inspect() has listed them).

    bos_token is written where the template asks for it: pass "" when the tokenizer adds its own BOS
    while tokenizing, or the text would start with two.
    """
    opened = source if isinstance(source, Source) else open_source(source)
    detection = detect(opened, format, mapping)
    chosen = get_template(template)
    for row in iter_rows(opened):
        try:
            messages = row_messages(row, opened, detection)
            try:
                text, prompt = render_row(messages, chosen, bos_token=bos_token, eos_token=eos_token)
            except TemplateRenderError as error:
                problem = Problem(
                    row.line,
                    "template_refused",
                    f"{opened.where(row.line, row.file_line)}: the {chosen.name} template refuses this conversation ({error}); "
                    "fix the row or choose another template.",
                )
                raise BadRowError(problem) from None
        except BadRowError:
            if skip_bad_rows:
                continue
            raise
        yield TrainingText(row.line, text, prompt)


def preview(
    source: str | os.PathLike[str] | Source,
    *,
    template: str | ChatTemplate,
    n: int = 3,
    format: str | None = None,
    mapping: dict[str, str] | None = None,
    bos_token: str = "",
    eos_token: str = "",
) -> list[str]:
    """The training text of the first `n` rows that convert (rows that do not are skipped here;
    inspect() lists them)."""
    opened = source if isinstance(source, Source) else open_source(source)
    detection = detect(opened, format, mapping)
    chosen = get_template(template) if isinstance(template, str) else template
    shown: list[str] = []
    for row in iter_rows(opened):
        if len(shown) >= n:
            break
        try:
            messages = row_messages(row, opened, detection)
            shown.append(render_row(messages, chosen, bos_token=bos_token, eos_token=eos_token)[0])
        except (BadRowError, TemplateRenderError):
            continue
    return shown


@dataclass(frozen=True)
class VisionExample:
    """One vision row as the trainer feeds it: TRL's messages + images, and its first question and answer."""

    line: int
    messages: list[dict[str, Any]]  # content as parts: {"type": "text", "text"} / {"type": "image"}
    images: list[Any]  # ImageRef, in the order of the image parts
    prompt: list[dict[str, Any]]  # the messages before the first answer (for sample generations)
    reference: str  # the first answer's text


def vision_examples(
    source: str | os.PathLike[str] | Source,
    *,
    format: str | None = None,
    mapping: dict[str, str] | None = None,
    skip_bad_rows: bool = False,
) -> Iterator[VisionExample]:
    """Every row of a vision dataset with its images located (not decoded): a row that cannot be converted,
    or names an image that cannot be located, raises BadRowError naming the row and the fix."""
    from ftui.core.data.formats import text_of_parts, to_vision_messages
    from ftui.core.data.images import NotAnImageRef, image_ref

    opened = source if isinstance(source, Source) else open_source(source)
    detection = detect(opened, format, mapping)
    base = opened.files[0].parent if opened.files else None
    for row in iter_rows(opened):
        try:
            if row.problem is not None:
                raise RowProblem(*row.problem)
            messages, payloads = to_vision_messages(row.value, detection.format, detection.mapping)
            refs = []
            for payload in payloads:
                try:
                    ref = image_ref(payload, base)
                except NotAnImageRef as error:
                    raise RowProblem(
                        "wrong_type", f"an image is {error}, not a path, bytes or a URL"
                    ) from None
                if ref is None:
                    raise RowProblem("no_image", "an image of the row is empty")
                refs.append(ref)
        except RowProblem as problem:
            if skip_bad_rows:
                continue
            raise BadRowError(problem.at(opened.where(row.line, row.file_line), row.line)) from None
        first = next((i for i, m in enumerate(messages) if m["role"] == "assistant"), len(messages))
        reference = text_of_parts(messages[first]["content"]) if first < len(messages) else ""
        yield VisionExample(row.line, messages, refs, messages[:first], reference)


def first_rows(source: Source, n: int) -> list[Any]:
    return [row.value for row in islice(iter_rows(source), n)]
