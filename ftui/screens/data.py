"""Step 4: the data. A file or an HF dataset id; the inspector's summary, problems with their row numbers,
token lengths, a preview of the converted training text, and base or instruct for that much data."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Static

from ftui.core.plan import Plan
from ftui.screens.base import StepScreen
from ftui.screens.license import hanging
from ftui.widgets.path_input import PathInput
from ftui.widgets.plain_text import one_line, plain

PREVIEW_ROWS = 2


@dataclass
class Inspected:
    """What the worker brings back: the report, the advice for the plan with this data, the preview."""

    report: object  # ftui.core.data.InspectionReport
    advice: object  # ftui.core.advice.Advice
    template: str
    template_note: str
    preview: list[str]


def inspect_for_plan(source: str, plan: Plan) -> Inspected:
    """The core's calls in order: inspect, advise with the data's summary, preview in the advised template."""
    from ftui.core.advice import advise
    from ftui.core.data import inspect, preview, template_names

    report = inspect(source, model=plan.model, max_length=plan.settings.seq)
    with_data = copy.deepcopy(plan)
    with_data.dataset = report.summary()
    advice = advise(with_data)
    template, note = advice.template, ""
    if template is None:
        template, note = "chatml", "The model keeps its tokenizer's own template; shown here as ChatML."
    elif template not in template_names():
        note = f"ftui cannot render {template} without the model's tokenizer; shown here as ChatML."
        template = "chatml"
    texts = preview(source, template=template, n=PREVIEW_ROWS)
    return Inspected(report, advice, template, note, texts)


def summary_view(report) -> RenderableType:  # type: ignore[no-untyped-def]
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
    return hanging([(f"{label:<8}", Text(value)) for label, value in rows])


def problems_view(report) -> RenderableType:  # type: ignore[no-untyped-def]
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

    def compose_step(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield Static("Which data will you train on?", classes="question")
            yield PathInput(
                placeholder="a .jsonl / .json / .csv / .parquet file, or an HF dataset id; Enter inspects",
                id="source",
            )
            yield Static(
                "Tab or → completes a path; Enter reads every row; Esc leaves the field for the step keys.",
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
                    yield Static("Preview of the training text", classes="section")
                    yield Static(id="preview")

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

    def inspect_source(self, source: str) -> None:
        self._status(Text(f"Reading {source}…", "dim"))
        self._inspect(source, copy.deepcopy(self.plan))

    @work(thread=True, exclusive=True, group="inspect", exit_on_error=False)
    def _inspect(self, source: str, plan: Plan) -> None:
        from ftui.core.errors import UserError

        try:
            result: Inspected | str = inspect_for_plan(source, plan)
        except UserError as error:
            result = str(error)
        self.app.call_from_thread(self._show, result)

    def _status(self, text: Text) -> None:
        self.query_one("#data-status", Static).update(text)

    def _show(self, result: Inspected | str) -> None:
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
        self.query_one("#preview", Static).update(preview_view(result.preview))
        self.query_one("#data-panes").display = True
