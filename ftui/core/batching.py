"""The micro-batch and gradient accumulation that train fastest at the user's effective batch.

The effective batch (rows per optimizer step: micro-batch x accumulation x GPUs) is a training choice: it
sets the gradient's noise and the number of steps. How it is split is only a speed choice: the same rows
give the same gradient whether they go through the GPU 2 at a time 4 times or 8 at once (the Trainer
normalizes the loss by the tokens of the whole step). A small micro-batch leaves the GPU waiting on the
host's per-layer work; a large one is faster until the GPU is busy, then only costs memory. So ftui splits
the effective batch as the time model says is fastest, among the splits whose peak memory fits the card
with the estimator's worst measured error to spare (MEMORY_SAFETY_MARGIN), and says why.

Rows are sized at the worst case for memory (every row at the maximum length, or the data's longest row)
and at the data's mean row for time (padding-free batches cost the tokens they hold). Core module: no
torch, no Textual.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ftui.core.dims import ModelDims
from ftui.core.memory import MEMORY_SAFETY_MARGIN, MemoryEstimate, estimate_peak_vram, fits_with_margin
from ftui.core.memory_vision import VisionLoad
from ftui.core.plan import TrainingSettings

# Splits within this much of the fastest are as fast as far as the time model can tell: the split asked for
# stays if it is one of them (no change without a gain), else the smallest of them wins (less memory).
NEAR_FASTEST = 0.03


@dataclass(frozen=True)
class Split:
    batch: int  # micro-batch per GPU
    grad_accum: int
    peak_gib: float  # the estimate, rows at their worst case
    fits: bool  # with MEMORY_SAFETY_MARGIN to spare
    tokens_per_second: float | None  # None: ftui has no speed figures for the card

    @property
    def words(self) -> str:
        return f"{self.batch} x {self.grad_accum}"

    def to_json(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "grad_accum": self.grad_accum,
            "total_gib": round(self.peak_gib, 3),
            "fits": self.fits,
            "tokens_per_second": None if self.tokens_per_second is None else round(self.tokens_per_second),
        }


@dataclass(frozen=True)
class BatchChoice:
    batch: int  # what the run uses
    grad_accum: int
    gpus: int
    chosen_by: str  # "ftui" (the fastest split) or "settings" (as the user set it, or nothing to choose with)
    reason: str  # one sentence: what was chosen and why
    short: str = ""  # the same in a few words, for a line on the train step
    given: Split | None = None  # the split the settings asked for
    options: tuple[Split, ...] = ()  # every split of the effective batch, smallest micro-batch first
    vram_gib: float | None = None
    gpu: str | None = None

    @property
    def effective_batch(self) -> int:
        """Rows per optimizer step, over every GPU."""
        return self.batch * self.grad_accum * self.gpus

    @property
    def chosen(self) -> Split | None:
        return next((o for o in self.options if o.batch == self.batch), None)

    @property
    def speedup(self) -> float | None:
        """Tokens/s of the chosen split over the given one (None when either has no figure)."""
        chosen, given = self.chosen, self.given
        if not chosen or not given or not chosen.tokens_per_second or not given.tokens_per_second:
            return None
        return chosen.tokens_per_second / given.tokens_per_second

    def settings(self, settings: TrainingSettings) -> TrainingSettings:
        """`settings` with this split."""
        return dataclasses.replace(settings, batch=self.batch, grad_accum=self.grad_accum)

    def to_json(self) -> dict[str, Any]:
        chosen = self.chosen
        return {
            "batch": self.batch,
            "grad_accum": self.grad_accum,
            "gpus": self.gpus,
            "effective_batch": self.effective_batch,
            "chosen_by": self.chosen_by,
            "reason": self.reason,
            "short": self.short,
            "total_gib": None if chosen is None else round(chosen.peak_gib, 3),
            "tokens_per_second": None
            if chosen is None or chosen.tokens_per_second is None
            else round(chosen.tokens_per_second),
            "speedup": None if self.speedup is None else round(self.speedup, 3),
            "safety_margin": MEMORY_SAFETY_MARGIN,
            "options": [option.to_json() for option in self.options],
        }


def _peak(
    dims: ModelDims,
    settings: TrainingSettings,
    gpus: int,
    vram_gib: float,
    longest_row: int | None,
    vision: VisionLoad | None,
) -> MemoryEstimate:
    """One GPU's peak with this split: on several, that of the way ftui would take (sharding.choose_way)."""
    if gpus <= 1:
        return estimate_peak_vram(dims, settings, tokens_per_row=longest_row, vision=vision)
    from ftui.core.sharding import choose_way

    way = choose_way(dims, settings, gpus, vram_gib, tokens_per_row=longest_row, vision=vision)
    return MemoryEstimate(total_gib=way.estimate.total_gib)


def splits(rows: int) -> list[tuple[int, int]]:
    """Every (micro-batch, accumulation) whose product is `rows`, smallest micro-batch first."""
    rows = max(1, rows)
    return [(b, rows // b) for b in range(1, rows + 1) if rows % b == 0]


def choose_batch(
    dims: ModelDims,
    settings: TrainingSettings,
    *,
    vram_gib: float | None,
    gpu: str | None = None,
    gpus: int = 1,
    mean_row: int | None = None,
    longest_row: int | None = None,
    vision: VisionLoad | None = None,
) -> BatchChoice:
    """The split of `settings.batch x settings.grad_accum` rows per GPU that trains fastest on `gpu`
    (`vram_gib` each) and fits with MEMORY_SAFETY_MARGIN to spare (on several GPUs, each GPU's peak the way
    ftui trains on them: a copy each, or sharded); the settings' own split when `settings.auto_batch` is
    off, or when there is no card to size for."""
    from ftui.core.speed import estimate_step_time, gpu_speed

    gpus = max(1, gpus)
    rows = max(1, settings.batch) * max(1, settings.grad_accum)
    keep = (max(1, settings.batch), max(1, settings.grad_accum))
    if vram_gib is None:
        return BatchChoice(
            *keep,
            gpus=gpus,
            chosen_by="settings",
            reason=f"{_words(*keep)} as set: there is no GPU to size the split for.",
            short=f"{_short(*keep)} as set (no GPU to size it for)",
        )
    speed = gpu_speed(gpu) if gpu else None
    options = []
    for batch, accum in splits(rows):
        split_settings = dataclasses.replace(settings, batch=batch, grad_accum=accum)
        peak = _peak(dims, split_settings, gpus, vram_gib, longest_row, vision)
        step = (
            estimate_step_time(dims, split_settings, speed, tokens_per_row=mean_row, vision=vision)
            if speed
            else None
        )
        options.append(
            Split(
                batch=batch,
                grad_accum=accum,
                peak_gib=peak.total_gib,
                fits=fits_with_margin(peak, vram_gib),
                tokens_per_second=step.tokens_per_second if step else None,
            )
        )
    given = next(o for o in options if (o.batch, o.grad_accum) == keep)
    card = gpu or f"{vram_gib:g} GiB GPU"

    def choice(batch: int, grad_accum: int, chosen_by: str, reason: str, short: str) -> BatchChoice:
        return BatchChoice(
            batch,
            grad_accum,
            gpus=gpus,
            chosen_by=chosen_by,
            reason=reason,
            short=short,
            given=given,
            options=tuple(options),
            vram_gib=vram_gib,
            gpu=gpu,
        )

    fitting = [o for o in options if o.fits]
    margin = f"{MEMORY_SAFETY_MARGIN:.0%}"
    if not settings.auto_batch:
        best = _fastest(fitting, prefer=given)
        note = ""
        if (
            best is not None
            and best.batch != given.batch
            and best.tokens_per_second
            and given.tokens_per_second
        ):
            note = (
                f"; ftui would split it {best.words}, about "
                f"{best.tokens_per_second / given.tokens_per_second:.2f}x the tokens/s"
            )
        faster = f"; ftui's fastest is {best.words}" if note and best is not None else ""
        if not given.fits:
            note += f"; its estimated {given.peak_gib:.1f} GiB does not fit the {card} with {margin} to spare"
            faster += "; may not fit"
        return choice(
            *keep,
            chosen_by="settings",
            reason=f"{_words(*keep)} as you set it{note}.",
            short=f"{_short(*keep)} as you set it{faster}",
        )
    if not fitting:
        return choice(
            1,
            rows,
            chosen_by="ftui",
            reason=f"{_words(1, rows)}: even one row at a time is estimated not to fit the {card} "
            f"with {margin} to spare; shorten the rows or pick a lighter method.",
            short=f"{_short(1, rows)}: even one row may not fit",
        )
    if speed is None:
        # No speed figures: keep the split asked for if it fits, else the largest micro-batch that does.
        pick = given if given.fits else fitting[-1]
        why = (
            "fits"
            if pick is given
            else f"is the largest micro-batch that fits the {card} with {margin} to spare"
        )
        return choice(
            pick.batch,
            pick.grad_accum,
            chosen_by="ftui",
            reason=f"{_words(pick.batch, pick.grad_accum)} {why}; ftui has no speed figures for this card "
            "to choose a faster split.",
            short=f"{_short(pick.batch, pick.grad_accum)} (no speed figures for this card)",
        )
    best = _fastest(fitting, prefer=given)
    assert best is not None and best.tokens_per_second is not None
    a_gpu = " a GPU" if gpus > 1 else ""  # the split is each GPU's; the step takes gpus x rows
    if best.batch == given.batch:
        short = f"{_short(best.batch, best.grad_accum)}: already among the fastest splits that fit"
        reason = (
            f"{_words(best.batch, best.grad_accum)} is already among the fastest splits of {rows} rows{a_gpu} a step "
            f"that fit the {card} with {margin} to spare (about {best.tokens_per_second:,.0f} tokens/s)."
        )
    else:
        larger = [o for o in fitting if o.batch > best.batch]
        capped = (
            f"; larger micro-batches gain under {NEAR_FASTEST:.0%} and hold more memory" if larger else ""
        )
        versus = (
            f", {best.tokens_per_second / given.tokens_per_second:.2f}x the {given.words} asked for"
            if given.tokens_per_second
            else ""
        )
        gain = (
            f", {best.tokens_per_second / given.tokens_per_second:.1f}x as fast as {given.words}"
            if given.tokens_per_second
            else ""
        )
        short = (
            f"{_short(best.batch, best.grad_accum)}: the fastest split that fits with {margin} to spare{gain}"
        )
        reason = (
            f"{_words(best.batch, best.grad_accum)} keeps {rows} rows{a_gpu} a step and is the fastest split that fits "
            f"the {card} with {margin} to spare: about {best.tokens_per_second:,.0f} tokens/s{versus}{capped}."
        )
    return choice(best.batch, best.grad_accum, chosen_by="ftui", reason=reason, short=short)


def _fastest(fitting: list[Split], prefer: Split | None = None) -> Split | None:
    """Among the fitting splits within NEAR_FASTEST of the fastest: `prefer` if it is one, else the smallest
    micro-batch."""
    timed = [o for o in fitting if o.tokens_per_second]
    if not timed:
        return None
    top = max(o.tokens_per_second or 0.0 for o in timed)
    near = [o for o in timed if (o.tokens_per_second or 0.0) >= top * (1 - NEAR_FASTEST)]
    return prefer if prefer in near else near[0]


def _words(batch: int, accum: int) -> str:
    return f"Micro-batch {batch} x accumulation {accum}"


def _short(batch: int, accum: int) -> str:
    return f"{batch} x {accum} (micro-batch x accumulation, {batch * accum} rows a step)"


# ---------------------------------------------------------------- for a run


ROWS_SAMPLED = 2000  # rows read to size a run's mean row: enough for a stable mean, fast on any file


def row_lengths(config: Any, limit: int = ROWS_SAMPLED) -> int | None:
    """The mean tokens of the first `limit` training rows of a RunConfig, as the trainer will see them
    (the model's tokenizer when it is on this machine, else the inspector's estimate); None when the data
    cannot be read here (the trainer reports why)."""
    from ftui.core.data.convert import preview
    from ftui.core.data.tokens import estimate_text, find_tokenizer

    template = config.template
    if not template or template == "model":
        template = "chatml"  # the model's own template: its markers cost about what ChatML's do
    try:
        texts = preview(
            config.data, template=template, n=limit, format=config.format, mapping=config.mapping or None
        )
    except Exception:  # any reason the data cannot be read is the trainer's to report, in its words
        return None
    if not texts:
        return None
    tokenizer = find_tokenizer(config.load_repo) or find_tokenizer(config.model)
    counts = tokenizer.count(texts) if tokenizer else [estimate_text(text) for text in texts]
    return max(1, round(sum(counts) / len(counts)))


def choose_for_run(
    config: Any, *, vram_gib: float | None, gpu: str | None, gpus: int = 1, mean_row: int | None = None
) -> BatchChoice:
    """choose_batch for a RunConfig: its model's dims and its data's mean row (sampled when not given).
    Memory is sized for rows at the maximum length: a sample cannot promise the data's longest row."""
    from ftui.core.catalog import dims_for
    from ftui.core.errors import UserError

    settings = config.settings
    keep = (max(1, settings.batch), max(1, settings.grad_accum))
    if vram_gib is None:
        reason = f"{_words(*keep)} as set: there is no GPU to size the split for."
        return BatchChoice(
            *keep, gpus=gpus, chosen_by="settings", reason=reason, short=f"{_short(*keep)} as set"
        )
    try:
        dims = dims_for(config.model)
    except UserError as error:
        return BatchChoice(
            *keep,
            gpus=gpus,
            chosen_by="settings",
            reason=f"{_words(*keep)} as set: {error}",
            short=f"{_short(*keep)} as set",
        )
    if mean_row is None:
        mean_row = row_lengths(config)
    vision = None
    if config.modality == "vision":  # sized for one 1024x1024 image a row, as the plan's default
        from ftui.core.vision import family_for

        if family_for(dims.architecture) is not None:
            vision = VisionLoad()
    return choose_batch(
        dims, settings, vram_gib=vram_gib, gpu=gpu, gpus=gpus, mean_row=mean_row, vision=vision
    )
