"""The ranked shortlist as a table: one row per candidate, what fits with each method and its estimate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from ftui.core.fit import FIT_WORDS
from ftui.widgets.sized_table import fill_table

CLASS_SHORT = {
    "permissive": "permissive",
    "open_with_conditions": "conditions",
    "non_commercial": "non-comm.",
}


def fit_cell(fit: str | None, gib: float | None, way: str | None = None) -> Text:
    """'fits 6.1G' in the fit's colour; just the estimate without a GPU to compare with. On several GPUs the
    size is per GPU, and a model that is sharded over them (way "fsdp") says so: 'fits 19.8G sharded'."""
    size = "?" if gib is None else f"{gib:.1f}G"
    if way == "fsdp":
        size += " sharded"
    if fit is None:
        return Text(size, end="")
    words = FIT_WORDS[fit]
    return Text(f"{words.cell} {size}", style=words.colour, end="")


class ModelTable(DataTable):
    """Candidates of the advice (ftui.core.advice.Candidate); the row key is the model's hf_id."""

    DEFAULT_CSS = """
    ModelTable {
        height: auto;
        max-height: 12;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, id=id)
        self.candidates: list[Any] = []
        self.show_repo = False

    def show_candidates(
        self, candidates: Sequence[Any], license_classes: dict[str, str], *, show_repo: bool
    ) -> None:
        highlighted = self.highlighted_id
        self.candidates = list(candidates)
        self.show_repo = show_repo
        columns = [
            ("Model", "model"),
            ("Size", "size"),
            ("Kind", "kind"),
            ("License", "license"),
            ("QLoRA", "qlora"),
            ("LoRA", "lora"),
            ("Full", "full"),
        ]
        if show_repo:
            columns.append(("Repo to load", "repo"))
        rows: list[tuple[str, list[Text]]] = []
        for candidate in self.candidates:  # in the advice's order: the first is the best start
            model = candidate.model
            cells: list[Text] = [
                Text(model.name, end=""),
                Text(f"{model.params_b:.1f}B", end=""),
                Text("inst" if model.kind == "instruct" else model.kind, end=""),
                Text(CLASS_SHORT.get(license_classes.get(model.license, ""), model.license), end=""),
                *(
                    fit_cell(candidate.fits.get(m), candidate.est_vram_gib.get(m), candidate.strategy.get(m))
                    for m in ("qlora", "lora", "full")
                ),
            ]
            if show_repo:
                cells.append(Text(candidate.recommended_repo, end=""))
            rows.append((model.hf_id, cells))
        fill_table(self, columns, rows)
        if highlighted is not None and highlighted in {c.model.hf_id for c in self.candidates}:
            self.move_cursor(row=self.get_row_index(highlighted))

    @property
    def highlighted_id(self) -> str | None:
        if not self.candidates or self.cursor_row < 0 or self.cursor_row >= len(self.candidates):
            return None
        return self.candidates[self.cursor_row].model.hf_id

    @property
    def highlighted(self) -> Any | None:
        if not self.candidates or not 0 <= self.cursor_row < len(self.candidates):
            return None
        return self.candidates[self.cursor_row]
