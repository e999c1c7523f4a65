"""Dataset inspection and conversion: read any supported file, detect its format, validate every row,
count rows and tokens, and turn rows into the exact text the trainer trains on.

The public surface (what the CLI, the TUI and the trainer call):
  training_texts(source, template=..., ...) -> Iterator[TrainingText]
  template_markers(template) -> (instruction_part, response_part)
  inspect(source, ...) -> InspectionReport
  preview(source, template=..., n=3) -> list[str]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ftui.core.data.convert import TrainingText, preview, training_texts
from ftui.core.data.formats import FORMATS
from ftui.core.data.problems import PROBLEM_KINDS, BadRowError, Problem
from ftui.core.data.sources import UnreadableDataError
from ftui.core.data.templates import get_template, template_markers, template_names

if TYPE_CHECKING:
    from ftui.core.data.report import InspectionReport

__all__ = [
    "FORMATS",
    "PROBLEM_KINDS",
    "BadRowError",
    "InspectionReport",
    "Problem",
    "TrainingText",
    "UnreadableDataError",
    "get_template",
    "inspect",
    "preview",
    "template_markers",
    "template_names",
    "training_texts",
]


def inspect(source: Any, **options: Any) -> InspectionReport:
    """Read every row of `source` and report format, problems, sizes and tokens (see inspector.inspect)."""
    from ftui.core.data.inspector import inspect as run

    return run(source, **options)


def __getattr__(name: str) -> Any:
    if name == "InspectionReport":
        from ftui.core.data.report import InspectionReport

        return InspectionReport
    raise AttributeError(name)
