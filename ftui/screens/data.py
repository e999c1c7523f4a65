"""Step 4: the data. A file or an HF dataset id; the inspector's summary, problems with their row numbers,
token lengths, a preview of the converted training text, and base or instruct for that much data."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

from ftui.core.plan import Plan
from ftui.screens.base import StepScreen
from ftui.screens.license import hanging
from ftui.widgets.path_input import PathInput
from ftui.widgets.plain_text import one_line, plain

if TYPE_CHECKING:
    from ftui.core.advice import Advice
    from ftui.core.data.report import InspectionReport

PREVIEW_ROWS = 2
VISION_PREVIEW_ROWS = 12  # image rows prepared for paging with [ and ]
IMAGE_CELLS = 14  # the preview image's width in cells: beside its text in the right pane at 80 columns


@dataclass
class VisionRow:
    """A vision row as the preview shows it: its image (ready to draw) beside its turns."""

    line: int
    image: RenderableType | None
    more_images: int
    text: str


@dataclass
class Inspected:
    """What the worker brings back: the report, the advice for the plan with this data, the preview."""

    report: InspectionReport
    advice: Advice
    template: str
    template_note: str
    preview: list[str]
    vision: list[VisionRow] | None = None  # a vision dataset's rows: image and text


def inspect_for_plan(
    source: str, plan: Plan, progress: Callable[[int, int | None], None] | None = None
) -> Inspected:
    """The core's calls in order: inspect, advise with the data's summary, preview in the advised template.
    `progress(rows, total)` is called now and then while the rows are checked (total: None when unknown)."""
    from ftui.core.advice import advise
    from ftui.core.data import inspect, preview, template_names

    report = inspect(source, model=plan.model, max_length=plan.settings.seq, progress=progress)
    with_data = copy.deepcopy(plan)
    with_data.dataset = report.summary()
    advice = advise(with_data)
    template, note = advice.template, ""
    if template is None:
        template, note = "chatml", "The model keeps its tokenizer's own template; shown here as ChatML."
    elif template not in template_names():
        note = f"ftui cannot render {template} without the model's tokenizer; shown here as ChatML."
        template = "chatml"
    if report.images is not None:
        return Inspected(report, advice, "the processor's own", "", [], vision_rows(source))
    texts = preview(source, template=template, n=PREVIEW_ROWS)
    return Inspected(report, advice, template, note, texts)


def vision_rows(source: str, n: int = VISION_PREVIEW_ROWS) -> list[VisionRow]:
    """The first rows that convert, each with its first image drawn (in the worker: images are decoded)."""
    from itertools import islice

    from ftui.core.data.convert import vision_examples
    from ftui.core.data.formats import text_of_parts
    from ftui.core.data.images import ImageProblem, UrlFetcher, open_image
    from ftui.widgets.image_view import image_cells

    fetcher = UrlFetcher()
    rows = []
    for example in islice(vision_examples(source, skip_bad_rows=True), n):
        image: RenderableType | None = None
        if example.images:
            opened = open_image(example.images[0], fetcher)
            image = (
                Text(f"({opened.detail})", "dim")
                if isinstance(opened, ImageProblem)
                else image_cells(opened, IMAGE_CELLS, IMAGE_CELLS // 2 + 2)
            )
        text = "\n".join(f"{m['role']}: {text_of_parts(m['content'])}" for m in example.messages)
        rows.append(VisionRow(example.line, image, max(0, len(example.images) - 1), text))
    return rows


def summary_view(report) -> RenderableType:
    rows = [
        ("Rows", f"{report.rows:,} read, {report.usable_rows:,} usable for training"),
        (
            "Format",
            f"{report.format} (confidence {report.confidence:.2f}): {one_line(report.detected_because)}",
        ),
    ]
    tokens = report.tokens
    if tokens:
        how = (
            "counted with the tokenizer"
            if tokens.counted_with == "tokenizer"
            else "estimated, no tokenizer here"
        )
        rows.append(
            (
                "Tokens",
                f"per row p50 {tokens.p50:,}, p95 {tokens.p95:,}, max {tokens.max:,}; "
                f"total {tokens.total:,} ({how})",
            )
        )
        if tokens.over_max_length:
            rows.append(("Too long", f"{tokens.over_max_length:,} rows over {tokens.max_length:,} tokens"))
    images = report.images
    if images is not None:
        size = (
            f"; {images.width['p50']}x{images.height['p50']} px typical"
            if images.width and images.height
            else ""
        )
        rows.append(("Images", f"{images.images:,} in {images.rows_with_images:,} rows{size}"))
        if images.image_tokens:
            rows.append(
                ("", f"{images.image_tokens['p50']:,} image tokens a row as {images.tokens_for} counts them")
            )
        if images.outside_folder:
            rows.append(("", f"{images.outside_folder:,} outside the data folder (allowed)"))
    return hanging([(f"{label:<8}", Text(value)) for label, value in rows])


def problems_view(report) -> RenderableType:
    if not report.problem_counts:
        return Text("No problems: every row converts.", "green")
    counts = ", ".join(f"{kind.replace('_', ' ')} {count:,}" for kind, count in report.problem_counts.items())
    lines: list[tuple[str, Text | str]] = [("!", Text(counts, "yellow"))]
    for problem in report.problems:
        lines.append((f"line {problem.line}", plain(one_line(problem.message))))
    return hanging(lines)


def advice_view(inspected: Inspected) -> RenderableType:
    advice = inspected.advice
    kind = {"base": "a base model", "instruct": "an instruct model", "either": "either kind"}.get(
        advice.model_kind, advice.model_kind
    )
    lines: list[tuple[str, Text | str]] = [
        ("→", Text.assemble("Start from ", (kind, "bold"), f"; template {inspected.template}.")),
        (" ", advice.reasons[0]),
        (" ", advice.reasons[1]),
    ]
    for note in inspected.report.advice.get("notes", []):
        lines.append(("•", note))
    if inspected.template_note:
        lines.append(("•", inspected.template_note))
    return hanging(lines)


def vision_preview_view(rows: list[VisionRow], start: int) -> RenderableType:
    if not rows:
        return Text("No row converts to training data; see the problems above.", "yellow")
    parts: list[RenderableType] = []
    shown = rows[start : start + PREVIEW_ROWS]
    for row in shown:
        parts.append(Rule(f"row {row.line}", style="dim", align="left"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=IMAGE_CELLS, no_wrap=True)
        grid.add_column(ratio=1)
        text = plain(row.text)  # dataset text: literal, never markup
        if row.more_images:
            text.append(f"\n(+{row.more_images} more image{'s' if row.more_images > 1 else ''})", "dim")
        grid.add_row(row.image or Text("(no image)", "dim"), text)
        parts.append(grid)
    if len(rows) > PREVIEW_ROWS:
        last = min(start + PREVIEW_ROWS, len(rows))
        parts.append(Text(f"rows {start + 1}-{last} of the first {len(rows)}; [ and ] page", "dim"))
    return Group(*parts)


def progress_words(source: str, rows: int, total: int | None) -> str:
    """'Reading data.jsonl: 40,000 of 200,000 rows (20%)…'"""
    name = one_line(source, 50)
    if total:
        return f"Reading {name}: {rows:,} of {total:,} rows ({min(100, 100 * rows // total)}%)…"
    return f"Reading {name}: {rows:,} rows so far…"


def preview_view(texts: list[str]) -> RenderableType:
    if not texts:
        return Text("No row converts to training text; see the problems above.", "yellow")
    parts: list[RenderableType] = []
    for number, text in enumerate(texts, 1):
        parts.append(Rule(f"row {number} as the model sees it", style="dim", align="left"))
        shown = plain(text.rstrip("\n"))  # dataset text: literal, never markup
        shown.end = "\n"
        parts.append(shown)
    return Group(*parts)


class DataScreen(StepScreen):
    STEP = "data"
    AUTO_FOCUS = "#source"
    BINDINGS = [
        Binding("slash", "choose_data", "Other data", key_display="/"),
        Binding("left_square_bracket", "page_preview(-1)", "Previous rows", key_display="["),
        Binding("right_square_bracket", "page_preview(1)", "Next rows", key_display="]"),
    ]
    inspected: Inspected | None = None
    preview_start = 0

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "page_preview":
            rows = self.inspected.vision if self.inspected else None
            return bool(rows) and len(rows) > PREVIEW_ROWS  # type: ignore[arg-type]
        return True

    def action_page_preview(self, step: int) -> None:
        rows = self.inspected.vision if self.inspected else None
        if not rows:
            return
        last_page = (len(rows) - 1) // PREVIEW_ROWS * PREVIEW_ROWS
        self.preview_start = min(max(0, self.preview_start + step * PREVIEW_ROWS), last_page)
        self.query_one("#preview", Static).update(vision_preview_view(rows, self.preview_start))

    def compose_step(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield Static("Which data will you train on?", classes="question")
            yield PathInput(
                placeholder="a .jsonl / .json / .csv / .parquet file, or an HF dataset id; Enter inspects",
                id="source",
            )
            yield Static(
                "Tab or → completes a path; Enter reads every row; Esc leaves the field, / comes back to it.",
                id="data-status",
                classes="hint",
            )
            with Horizontal(id="data-panes"):
                with VerticalScroll(id="data-left", classes="pane"):
                    yield Static(id="summary")
                    yield Static("Problems", classes="section")
                    yield Static(id="problems")
                    yield Static("Base or instruct", classes="section")
                    yield Static(id="advice")
                with VerticalScroll(id="data-right", classes="pane"):
                    yield Static("Preview of the training text", id="preview-title", classes="section")
                    yield Static(id="preview")

    def action_choose_data(self) -> None:
        self.query_one("#source", PathInput).focus()

    def main_widget(self) -> str | None:
        # The path field until there is data; then the report, so that n goes on and arrows scroll it.
        return "#data-left" if self.query_one("#data-panes").display else "#source"

    def on_mount(self) -> None:
        self.query_one("#data-panes").display = False
        if self.plan.dataset is not None:
            self.query_one("#source", Input).value = self.plan.dataset.source
            self.inspect_source(self.plan.dataset.source)

    @on(Input.Submitted, "#source")
    def _submitted(self, event: Input.Submitted) -> None:
        source = event.value.strip()
        if source:
            self.inspect_source(source)

    reading: str | None = None  # the source being inspected now

    def inspect_source(self, source: str) -> None:
        self.reading = source
        self._status(Text(f"Reading {source}…", "dim"))
        self._inspect(source, copy.deepcopy(self.plan))

    @dataclass
    class InspectionProgressed(Message):
        """Rows checked so far (from the inspection's thread; a newer one replaces one not yet shown)."""

        source: str
        rows: int
        total: int | None

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, DataScreen.InspectionProgressed)

    def on_data_screen_inspection_progressed(self, message: InspectionProgressed) -> None:
        if self.reading != message.source:
            return  # a late one, after the report (or another file's) is up
        self._status(Text(progress_words(message.source, message.rows, message.total), "dim"))

    @work(thread=True, exclusive=True, group="inspect", exit_on_error=False)
    def _inspect(self, source: str, plan: Plan) -> None:
        from ftui.core.errors import UserError

        def progress(rows: int, total: int | None) -> None:
            self.post_message(self.InspectionProgressed(source, rows, total))  # post_message is thread-safe

        try:
            result: Inspected | str = inspect_for_plan(source, plan, progress)
        except UserError as error:
            result = str(error)
        self.app.call_from_thread(self._show, result)

    def _status(self, text: Text) -> None:
        self.query_one("#data-status", Static).update(text)

    def _show(self, result: Inspected | str) -> None:
        self.reading = None
        if isinstance(result, str):
            self._status(Text(result, "red"))
            self.query_one("#data-panes").display = False
            return
        report = result.report
        self.plan.dataset = report.summary()
        # The inspector's advice becomes the training defaults: a max length that fits 95% of the rows,
        # and loss on the answers only where prompts dominate.
        if report.advice.get("max_length"):
            self.plan.settings.seq = int(report.advice["max_length"])
        if "responses_only" in report.advice:
            self.plan.settings.responses_only = bool(report.advice["responses_only"])
        self._status(Text(f"Read every row of {one_line(report.source)}; n goes on to the models.", "green"))
        self.query_one("#summary", Static).update(summary_view(report))
        self.query_one("#problems", Static).update(problems_view(report))
        self.query_one("#advice", Static).update(advice_view(result))
        self.inspected, self.preview_start = result, 0
        if result.vision is not None:
            self.query_one("#preview-title", Static).update("Preview: each row's image and text")
            self.query_one("#preview", Static).update(vision_preview_view(result.vision, 0))
        else:
            self.query_one("#preview-title", Static).update("Preview of the training text")
            self.query_one("#preview", Static).update(preview_view(result.preview))
        self.query_one("#data-panes").display = True
        self.refresh_bindings()
        if self.focused is None or self.focused.id == "source":
            # Out of the field, so that "n goes on" is true; without scrolling the step to the report, which
            # would hide the question, the path and that sentence (it did, when the layout came late).
            self.query_one("#data-left").focus(scroll_visible=False)
