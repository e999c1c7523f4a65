"""How a fine-tune fits a card, and the training methods, in words: the one home for every screen and
command that says so (the rule itself is the estimator's, ftui.core.memory.MemoryEstimate.fit)."""

from __future__ import annotations

from dataclasses import dataclass

from ftui.core.memory import MemoryEstimate

METHOD_WORDS = {"qlora": "QLoRA", "lora": "LoRA", "full": "full fine-tuning"}
NO_GPU_WORDS = "no GPU chosen"


@dataclass(frozen=True)
class FitWords:
    cell: str  # a table cell beside the size: "no 48.2G"
    word: str  # a label: "plan ┃ 9.1 GiB: too big"
    phrase: str  # after a colon in a line: "on the RTX 4090 (24 GiB): fits only just"
    sentence: str  # the end of a sentence that has room for the reason
    colour: str  # rich colour name


FIT_WORDS: dict[str, FitWords] = {
    "fits": FitWords("fits", "fits", "fits", "fits", "green"),
    "tight": FitWords("tight", "tight", "fits only just", "fits only just (under 10% to spare)", "yellow"),
    "too_big": FitWords("no", "too big", "does not fit", "does not fit", "red"),
}


def fit_on(estimate_gib: float, total_gib: float, used_gib: float | None = None) -> str:
    """fits / tight / too_big: the estimator's rule against the card, and tight when others hold the room."""
    status = MemoryEstimate(total_gib=estimate_gib).fit(total_gib)
    if status != "too_big" and used_gib is not None and estimate_gib > total_gib - used_gib:
        return "tight"
    return status
