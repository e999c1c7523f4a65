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


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)
