"""What can be wrong with a row, in the user's words, and the error raised when a row cannot be trained on."""

from __future__ import annotations

from dataclasses import dataclass

from ftui.core.errors import UserError

# kind -> what to do about it. The order is the order of the report.
PROBLEM_KINDS: dict[str, str] = {
    "malformed_json": "fix the JSON on that line or delete it",
    "not_utf8": "re-save the file as UTF-8 or delete the row",
    "missing_field": "add the field, or map your column to it with --map",
    "empty_field": "fill it in or delete the row",
    "wrong_type": "make it the type shown, or map another column with --map",
    "unknown_role": "use system, user or assistant (ShareGPT: system, human, gpt)",
    "roles_not_alternating": "make user and assistant turns take turns, after an optional system turn",
    "no_assistant_turn": "add the answer as an assistant turn, or delete the row",
    "no_image": "add the image, or delete the row",
    "image_mismatch": "give one <image> (or image part) per image, in order",
    "missing_image": "fix the path (relative paths start at the data file's folder) or delete the row",
    "unreadable_image": "replace the file with a valid PNG or JPEG, or delete the row",
    "image_too_large": "resize the image (e.g. to 2048 pixels on its longest side) or delete the row",
    "image_url": "download the image and give its path",
    "too_many_images": "split the row, or choose a model that takes several images",
    "image_tokens_overflow": "raise --max-length or use smaller images; training would cut the image apart",
    "duplicate": "delete the repeated row, or keep it on purpose to weight it",
    "too_long": "raise --max-length, shorten the row, or accept that training truncates it",
    "malformed_csv": "fix the quoting of that record",
    "template_refused": "fix the row or choose another template",
}


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based line in the file (row number for Parquet and Hub datasets)
    kind: str
    message: str  # one sentence that names the place and says what to do

    def to_json(self) -> dict[str, object]:
        return {"line": self.line, "kind": self.kind, "message": self.message}


class RowProblem(ValueError):
    """Raised inside row normalisation; the caller adds where it happened."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail

    def at(self, where: str, line: int) -> Problem:
        return Problem(line, self.kind, f"{where}: {self.detail}; {PROBLEM_KINDS[self.kind]}.")


class BadRowError(UserError):
    """A row the trainer cannot use. The message names the row and the fix in one sentence."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem
        self.line = problem.line
        self.kind = problem.kind
