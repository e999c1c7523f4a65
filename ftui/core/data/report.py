"""The inspection report: what `ftui inspect --json` prints and what the advice reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ftui.core.data.problems import PROBLEM_KINDS, Problem
from ftui.core.plan import DatasetSummary

# Problems that stop a row from being trained on (duplicates and long rows still train).
BLOCKING = tuple(kind for kind in PROBLEM_KINDS if kind not in ("duplicate", "too_long"))


@dataclass
class TokenStats:
    counted_with: str  # "tokenizer" or "estimate"
    tokenizer: str | None  # the tokenizer.json used
    p50: int
    p95: int
    max: int
    total: int
    mean: float
    max_length: int
    over_max_length: int

    def to_json(self) -> dict[str, Any]:
        return {
            "counted_with": self.counted_with,
            "tokenizer": self.tokenizer,
            "p50": self.p50,
            "p95": self.p95,
            "max": self.max,
            "total": self.total,
            "mean": round(self.mean, 1),
            "max_length": self.max_length,
            "over_max_length": self.over_max_length,
        }


@dataclass
class ImageStats:
    """The images of a vision dataset: how many, how big, how many tokens they become."""

    rows_with_images: int
    images: int
    most_per_row: int
    width: dict[str, int] | None  # p50, p95, max in pixels
    height: dict[str, int] | None
    image_tokens: dict[str, int] | None  # per usable row
    tokens_for: str  # the family whose rule counted them
    tokens_for_model: bool  # False: no vision --model was given, the default family's rule was used
    outside_folder: int  # images whose path is outside the data file's folder (allowed, shown)
    outside_examples: list[tuple[int, str]]

    def to_json(self) -> dict[str, Any]:
        return {
            "rows_with_images": self.rows_with_images,
            "images": self.images,
            "most_per_row": self.most_per_row,
            "width": self.width,
            "height": self.height,
            "image_tokens": self.image_tokens,
            "tokens_for": self.tokens_for,
            "tokens_for_model": self.tokens_for_model,
            "outside_folder": self.outside_folder,
            "outside_examples": [{"line": line, "image": image} for line, image in self.outside_examples],
        }


@dataclass
class InspectionReport:
    source: str
    kind: str  # jsonl | json | csv | tsv | parquet | arrow | stream
    bytes: int
    rows: int  # records read
    usable_rows: int  # records that convert to training text
    format: str
    confidence: float
    columns: dict[str, str]  # format field -> your column
    all_columns: list[str]
    detected_because: str
    problems: list[Problem]  # the first few of each kind, in line order within a kind
    problem_counts: dict[str, int]
    tokens: TokenStats | None
    advice: dict[str, Any] = field(default_factory=dict)
    template: str | None = None  # the template token counts were rendered with, if any
    seconds: float = 0.0
    images: ImageStats | None = None  # a vision dataset's images; None for text data

    @property
    def modality(self) -> str:
        return "vision" if self.images is not None else "text"

    problem_lines: list[int] = field(default_factory=list)  # every row that cannot be trained on

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "bytes": self.bytes,
            "rows": self.rows,
            "usable_rows": self.usable_rows,
            "format": self.format,
            "confidence": self.confidence,
            "columns": self.columns,
            "all_columns": self.all_columns,
            "detected_because": self.detected_because,
            "problems": [problem.to_json() for problem in self.problems],
            "problem_counts": self.problem_counts,
            "tokens": self.tokens.to_json() if self.tokens else None,
            "advice": self.advice,
            "template": self.template,
            "modality": self.modality,
            "images": self.images.to_json() if self.images else None,
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> DatasetSummary:
        """What the advice and the estimator need: the rows that will actually train, and their tokens."""
        return DatasetSummary(
            source=self.source,
            rows=self.usable_rows,
            format=self.format,
            total_tokens=self.tokens.total if self.tokens else None,
            p95_tokens=self.tokens.p95 if self.tokens else None,
            max_tokens=self.tokens.max if self.tokens else None,
            modality=self.modality,
            images_per_row=self.images.most_per_row if self.images else 0,
            image_size=(self.images.width["p95"], self.images.height["p95"])
            if self.images and self.images.width and self.images.height
            else None,
        )

    def to_text(self) -> str:
        out = [
            f"{self.source}: {self.rows:,} rows, {self.usable_rows:,} usable ({_size(self.bytes)} {self.kind})",
            f"Format: {self.format} (confidence {self.confidence:.2f}): "
            + ", ".join(f"{key} <- {column}" for key, column in self.columns.items()),
        ]
        if self.tokens:
            t = self.tokens
            how = (
                "counted with the model's tokenizer"
                if t.counted_with == "tokenizer"
                else "estimated, no tokenizer found"
            )
            out.append(
                f"Tokens per row ({how}): p50 {t.p50:,}, p95 {t.p95:,}, max {t.max:,}; total {t.total:,}; "
                f"{t.over_max_length:,} over max length {t.max_length:,}"
            )
        if self.images:
            i = self.images
            size = (
                f"; width p50 {i.width['p50']:,} max {i.width['max']:,}, height p50 {i.height['p50']:,} max {i.height['max']:,} px"
                if i.width and i.height
                else ""
            )
            out.append(
                f"Images: {i.images:,} in {i.rows_with_images:,} rows (at most {i.most_per_row} in a row){size}"
            )
            if i.image_tokens:
                out.append(
                    f"Image tokens per row ({i.tokens_for}): p50 {i.image_tokens['p50']:,}, max {i.image_tokens['max']:,}"
                    " (included in the tokens above)"
                )
            if i.outside_folder:
                out.append(f"Outside the data folder: {i.outside_folder:,} images (allowed)")
                for line, image in i.outside_examples:
                    out.append(f"  row {line}: {image}")
        total = sum(self.problem_counts.values())
        if total:
            out.append(f"Problems: {total:,}")
            for kind, count in self.problem_counts.items():
                out.append(f"  {kind}: {count:,}")
                for problem in (p for p in self.problems if p.kind == kind):
                    out.append(f"    {problem.message}")
        else:
            out.append("Problems: none")
        for note in self.advice.get("notes", []):
            out.append(f"Advice: {note}")
        return "\n".join(out)


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)
