"""The advice engine: a pure function of the Plan that says which models to fine-tune, and why.

Every decision carries its reason in words, and every model that is not on the shortlist says why it was
dropped (license, memory, modality, use case, kind, or ranked below the shortlist). Memory fit goes through
ftui.core.memory.estimate_peak_vram, the estimator the memory screen uses, so the two never disagree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ftui.core.catalog import Catalog, License, Model, load_catalog
from ftui.core.fit import FIT_WORDS, METHOD_WORDS
from ftui.core.plan import METHODS, GpuChoice, Plan

# The data-size rule (rows of training data -> base or instruct model).
BASE_MIN_ROWS = 1000  # from here on, a base model
EITHER_MIN_ROWS = 300  # 300-999: either; fewer: an instruct model
SHORTLIST = 8
MULTI_TURN_FORMATS = ("sharegpt", "messages")
CLASS_WORDS = {
    "permissive": "permissive",
    "open_with_conditions": "open, with conditions",
    "non_commercial": "non-commercial",
}


class Decision(NamedTuple):
    """One decision and the reason for it, in words. Unpacks as (value, reason)."""

    value: Any
    reason: str


def model_kind_for_rows(rows: int | None) -> Decision:
    """Base or instruct for this much data: >= 1000 rows base, 300-999 either, < 300 instruct."""
    if rows is None:
        return Decision(
            "instruct",
            "No dataset yet: an instruct model is the safe start, it already follows instructions and "
            "needs the least data to steer.",
        )
    if rows < 0:
        raise ValueError("rows must be >= 0")
    if rows >= BASE_MIN_ROWS:
        return Decision(
            "base",
            f"{rows} rows (1000 or more) are enough to teach a base model your format and style from scratch, "
            "without fighting the habits of another model's chat tuning.",
        )
    if rows >= EITHER_MIN_ROWS:
        return Decision(
            "either",
            f"{rows} rows (300-999) can go either way: an instruct model learns faster from little data, a base "
            "model gives you more control over the output format; instruct models are listed first.",
        )
    return Decision(
        "instruct",
        f"{rows} rows (fewer than 300) are too few to teach a base model to follow instructions; start from "
        "an instruct model, which already does, and let the rows steer it.",
    )


def template_for(
    model: Model | None, kind: str, data_format: str | None = None, use_case: str | None = None
) -> Decision:
    """The chat template to train with: an instruct model keeps its own; a base model takes Alpaca
    (single-turn rows) or Vicuna (conversations); a vision model trained on images keeps its processor's
    own, base or instruct, whatever the row count. Decision.value None means the tokenizer's (processor's)
    own template."""
    if use_case == "vision" and (model is None or model.modality == "vision"):
        return Decision(
            None,
            "A vision model keeps its processor's own chat template, base or instruct, whatever the number of "
            "rows: the template places the image tokens the model was trained to read, which Alpaca or "
            "Vicuna cannot.",
        )
    if model is not None:
        kind = model.kind
    multi_turn = data_format in MULTI_TURN_FORMATS
    if kind == "instruct":
        if model is None:
            return Decision(
                "chatml",
                "Instruct models keep a chat template; ChatML is the common default, with ShareGPT or messages "
                "rows mapped onto its roles.",
            )
        if model.chat_template is None:
            return Decision(
                None,
                f"{model.hf_id} keeps its tokenizer's own chat template (Unsloth has no named template for it); "
                "ShareGPT or messages rows are mapped onto it.",
            )
        return Decision(
            model.chat_template,
            f"An instruct model keeps the chat template it was tuned with ({model.chat_template}): training on "
            "another format would unteach it; ShareGPT or messages rows are mapped onto its roles.",
        )
    if kind == "base":
        if multi_turn:
            return Decision(
                "vicuna",
                "A base model has no chat template of its own; Vicuna's USER:/ASSISTANT: prompt carries "
                "multi-turn conversations.",
            )
        return Decision(
            "alpaca",
            "A base model has no chat template of its own; the Alpaca prompt (### Instruction / ### Response) "
            "is the simplest for single-turn instruction data.",
        )
    return Decision(
        "chatml",
        "Either kind: an instruct model keeps its own chat template, a base model takes the Alpaca prompt; "
        "ChatML until a model is chosen.",
    )


@dataclass(frozen=True)
class Candidate:
    model: Model
    recommended_repo: str
    method: str  # the method the fit and repo are for
    fits: dict[str, str | None]  # method -> fits | tight | too_big; None without a GPU
    est_vram_gib: dict[str, float]  # method -> peak GiB (per GPU, the way `strategy` says)
    template: str | None
    reasons: tuple[str, ...]
    strategy: dict[str, str] = field(default_factory=dict)  # method -> single | ddp | fsdp

    def to_json(self) -> dict[str, Any]:
        m = self.model
        return {
            "hf_id": m.hf_id,
            "recommended_repo": self.recommended_repo,
            "method": self.method,
            "params_b": m.params_b,
            "kind": m.kind,
            "modality": m.modality,
            "license": m.license,
            "commercial_use": m.commercial_use,
            "gated": m.gated,
            "fits": self.fits,
            "est_vram_gib": self.est_vram_gib,
            "strategy": self.strategy,
            "template": self.template,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class Dropped:
    hf_id: str
    category: str  # modality | unsupported | use_case | license | memory | kind | ranked_lower
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"hf_id": self.hf_id, "category": self.category, "reason": self.reason}


@dataclass(frozen=True)
class Advice:
    use_case: str
    license_policy: str
    model_kind: str
    template: str | None
    reasons: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    dropped: tuple[Dropped, ...]
    gpu: GpuChoice | None = None
    method: str = "qlora"

    def to_json(self) -> dict[str, Any]:
        return {
            "use_case": self.use_case,
            "license_policy": self.license_policy,
            "gpu": None
            if self.gpu is None
            else {
                "name": self.gpu.name,
                "vram_gib": self.gpu.vram_gib,
                "bf16": self.gpu.bf16,
                "count": self.gpu.count,
            },
            "method": self.method,
            "model_kind": self.model_kind,
            "template": self.template,
            "reasons": list(self.reasons),
            "candidates": [c.to_json() for c in self.candidates],
            "dropped": [d.to_json() for d in self.dropped],
        }


@dataclass
class _Review:
    """A model on its way through the rules."""

    model: Model
    primary: bool
    reasons: list[str] = field(default_factory=list)
    kind_ok: bool = True  # False: kept although the data size asks for the other kind
    method: str = "qlora"
    fits: dict[str, str | None] = field(default_factory=dict)
    est: dict[str, float] = field(default_factory=dict)
    strategy: dict[str, str] = field(default_factory=dict)
    single: dict[str, float] = field(default_factory=dict)  # one GPU's peak, when planning for several
    loading: dict[str, bool] = field(default_factory=dict)  # the peak is while loading, not training


def effective_policy(plan: Plan) -> str:
    """The license policy in force: needing commercial use tightens 'any' to 'commercial'."""
    if plan.needs_commercial_use and plan.license_policy == "any":
        return "commercial"
    return plan.license_policy


def advise(plan: Plan, catalog: Catalog | None = None, limit: int = SHORTLIST) -> Advice:
    """A ranked shortlist for the Plan, each candidate with its reasons, and every other model with why not."""
    catalog = catalog or load_catalog()
    policy = effective_policy(plan)
    rows = plan.dataset.rows if plan.dataset else None
    data_format = plan.dataset.format if plan.dataset else None
    kind = model_kind_for_rows(rows)
    dropped: list[Dropped] = []
    kept: list[_Review] = []

    for model in catalog.models:
        review = _check_use_case(model, plan.use_case, dropped)
        if review is None:
            continue
        lic = catalog.license(model.license)
        if not _check_license(review, lic, policy, dropped):
            continue
        if not _check_memory(review, plan, dropped):
            continue
        kept.append(review)

    kept = _check_kind(kept, kind.value, rows, dropped)
    kept.sort(key=_rank_key)
    shortlist, rest = kept[:limit], kept[limit:]
    for review in rest:
        dropped.append(Dropped(review.model.hf_id, "ranked_lower", _ranked_lower_reason(review, shortlist)))

    candidates = []
    for position, review in enumerate(shortlist):
        template = template_for(review.model, kind.value, data_format, plan.use_case)
        reasons = list(review.reasons)
        if position == 0 and _is_start_small(review.model) and review.method == "qlora":
            reasons.insert(
                0,
                "Start small: a 7-8B instruct model in Unsloth's dynamic 4-bit form is the usual first fine-tune.",
            )
        candidates.append(
            Candidate(
                model=review.model,
                recommended_repo=review.model.repo_for(review.method),
                method=review.method,
                fits=review.fits,
                est_vram_gib=review.est,
                strategy=review.strategy,
                template=template.value,
                reasons=tuple(reasons),
            )
        )

    top = candidates[0].model if candidates else None
    template = template_for(top, kind.value, data_format, plan.use_case)
    reasons = [
        kind.reason,
        template.reason,
        _policy_reason(policy, plan),
        _gpu_reason(plan),
        _use_case_reason(plan.use_case),
    ]
    if not candidates:
        reasons.append(_nothing_left_reason(dropped))
    order = {
        "modality": 0,
        "unsupported": 0,
        "use_case": 1,
        "license": 2,
        "memory": 3,
        "kind": 4,
        "ranked_lower": 5,
    }
    dropped.sort(key=lambda d: order.get(d.category, 9))
    return Advice(
        use_case=plan.use_case,
        license_policy=policy,
        model_kind=kind.value,
        template=template.value,
        reasons=tuple(r for r in reasons if r),
        candidates=tuple(candidates),
        dropped=tuple(dropped),
        gpu=plan.gpu,
        method=plan.settings.method,
    )


# ---------------------------------------------------------------- the rules, one function each


def _check_use_case(model: Model, use_case: str, dropped: list[Dropped]) -> _Review | None:
    if use_case == "vision":
        if model.modality != "vision":
            dropped.append(
                Dropped(
                    model.hf_id,
                    "modality",
                    "Cannot read images: the vision use case needs a vision-capable model.",
                )
            )
            return None
        why_not = _why_ftui_cannot_train(model)
        if why_not:
            dropped.append(Dropped(model.hf_id, "unsupported", why_not))
            return None
        return _Review(model, primary=True, reasons=["Vision-capable: reads images and text."])
    if model.use_cases == ("vision",):
        dropped.append(
            Dropped(
                model.hf_id,
                "modality",
                "A vision model: its image tower costs memory that a text-only fine-tune never uses; choose the vision use case for it.",
            )
        )
        return None
    if use_case in model.use_cases:
        words = {
            "code": "A code model: trained on code first, so it starts closest to your task.",
            "reasoning": "Built for reasoning: trained to think step by step before it answers.",
            "general": "A strong general model for text.",
        }
        return _Review(model, primary=True, reasons=[words.get(use_case, f"Made for {use_case}.")])
    if use_case in ("code", "reasoning") and "general" in model.use_cases:
        return _Review(
            model,
            primary=False,
            reasons=[f"A general model that can also do {use_case}; {use_case} specialists rank above it."],
        )
    what = {
        "code": "a code specialist",
        "reasoning": "a reasoning model that answers with long chains of thought",
    }
    special = next((what[u] for u in model.use_cases if u in what), f"made for {', '.join(model.use_cases)}")
    dropped.append(
        Dropped(
            model.hf_id, "use_case", f"Not a {use_case} model: it is {special}; choose that use case for it."
        )
    )
    return None


def _why_ftui_cannot_train(model: Model) -> str | None:
    """Why ftui cannot fine-tune this vision model on images (None: it can). ftui trains the families whose
    image handling it knows (ftui/core/vision.py) through Unsloth's FastVisionModel."""
    from ftui.core.vision import FAMILIES, family_for

    if family_for(model.dims.architecture) is None:
        known = ", ".join(f.name for f in FAMILIES)
        return f"ftui cannot fine-tune it on images: its architecture ({model.dims.architecture}) is not one ftui trains ({known})."
    repos = model.unsloth
    if not (repos.bf16 or repos.bnb_4bit or repos.unsloth_bnb_4bit):
        return "ftui cannot fine-tune it on images: Unsloth has no build of it."
    return None


def _check_license(review: _Review, lic: License | None, policy: str, dropped: list[Dropped]) -> bool:
    model = review.model
    name = lic.name if lic else model.license
    if policy == "commercial":
        if model.commercial_use == "no":
            dropped.append(Dropped(model.hf_id, "license", f"{name} does not allow commercial use."))
            return False
        if model.commercial_use == "unknown":
            dropped.append(
                Dropped(
                    model.hf_id,
                    "license",
                    "Commercial use could not be verified for this model; check its license before using it.",
                )
            )
            return False
    if policy == "permissive" and (lic is None or not lic.is_permissive):
        words = CLASS_WORDS.get(lic.license_class, "not verified") if lic else "not verified"
        dropped.append(Dropped(model.hf_id, "license", f"{name} is not permissive ({words})."))
        return False
    if model.commercial_use == "yes":
        review.reasons.append(f"License {name}: {lic.summary if lic else 'permissive'}")
    elif model.commercial_use == "yes_with_conditions":
        review.reasons.append(
            f"License {name}, commercial use with conditions: {lic.summary if lic else model.license_conditions}"
        )
    elif model.commercial_use == "no":
        review.reasons.append(f"License {name}: non-commercial, research and evaluation only.")
    else:
        review.reasons.append(f"License {name}: commercial use not verified; check the license.")
    if model.gated:
        review.reasons.append(
            "Gated on the Hub: accept its license on the model page and log in (`huggingface-cli login`) before training."
        )
    elif model.gated is None:
        review.reasons.append(
            "Whether the Hub gates it is not verified; if the download is refused, accept its license on the model page."
        )
    return True


def _check_memory(review: _Review, plan: Plan, dropped: list[Dropped]) -> bool:
    from ftui.core.sharding import choose_way

    model = review.model
    chosen = plan.settings.method if plan.settings.method in METHODS else "qlora"
    vision = _vision_load(plan, model)
    count = plan.gpu.count if plan.gpu else 1
    for method in METHODS:
        settings = dataclasses.replace(plan.settings, method=method)
        choice = choose_way(
            model.dims,
            settings,
            count,
            plan.gpu.vram_gib if plan.gpu else None,
            card=plan.gpu.name if plan.gpu else None,
            vision=vision,
        )
        review.est[method] = round(choice.estimate.total_gib, 1)
        review.fits[method] = choice.fits
        review.strategy[method] = choice.way
        review.single[method] = round(choice.options.get("ddp", choice.estimate).total_gib, 1)
        review.loading[method] = choice.estimate.loading_gib > choice.estimate.training_gib
    review.method = chosen
    if plan.gpu is not None and count > 1:
        return _check_memory_on_several(review, plan, chosen, dropped)
    if plan.gpu is None:
        review.reasons.append(
            f"{METHOD_WORDS[chosen]} needs about {review.est[chosen]:.1f} GiB at its peak; pick a GPU to check the fit."
        )
        _moe_note(review)
        return True
    gpu = plan.gpu
    fit = review.fits[chosen]
    if fit in ("fits", "tight"):
        word = FIT_WORDS[fit].sentence
        review.reasons.append(
            f"{METHOD_WORDS[chosen]} needs about {review.est[chosen]:.1f} GiB of the {gpu.vram_gib:.1f} GiB on the {gpu.name}: {word}."
        )
        _moe_note(review)
        return True
    lighter = [m for m in METHODS[: METHODS.index(chosen)] if review.fits[m] in ("fits", "tight")]
    if lighter:
        method = lighter[-1]  # the heaviest method that still fits: closest to what was asked
        review.method = method
        review.reasons.append(
            f"{METHOD_WORDS[chosen]} needs about {review.est[chosen]:.1f} GiB, more than the {gpu.vram_gib:.1f} GiB on the "
            f"{gpu.name}; {METHOD_WORDS[method]} fits in about {review.est[method]:.1f} GiB."
        )
        _moe_note(review)
        return True
    dropped.append(
        Dropped(
            model.hf_id,
            "memory",
            f"Too big for the {gpu.name}: even QLoRA needs about {review.est['qlora']:.1f} GiB of its {gpu.vram_gib:.1f} GiB.",
        )
    )
    return False


def _vision_load(plan: Plan, model: Model):  # -> VisionLoad | None
    """The images a row carries, for a vision model on the vision use case: the data's, else one photo."""
    if plan.use_case != "vision" or model.modality != "vision":
        return None
    from ftui.core.memory_vision import vision_load_for

    return vision_load_for(plan, model.dims.architecture)


def _check_memory_on_several(review: _Review, plan: Plan, chosen: str, dropped: list[Dropped]) -> bool:
    """N cards: a whole copy per GPU (DDP) when it fits, else sharded over them; the method asked for
    sharded before a lighter method whole (closest to what was asked)."""
    gpu = plan.gpu
    assert gpu is not None
    cards = f"{gpu.count} x {gpu.name}"
    fitting = [m for m in METHODS[: METHODS.index(chosen) + 1] if review.fits[m] in ("fits", "tight")]
    if not fitting:
        dropped.append(
            Dropped(
                review.model.hf_id,
                "memory",
                f"Too big for {cards}: even QLoRA sharded over the {gpu.count} needs about "
                f"{review.est['qlora']:.1f} GiB per GPU of their {gpu.vram_gib:.1f} GiB each"
                + (
                    " (while loading: Unsloth loads the whole 4-bit model on every GPU before it shards it)."
                    if review.loading.get("qlora")
                    else "."
                ),
            )
        )
        return False
    method = chosen if chosen in fitting else fitting[-1]
    review.method = method
    word = "fits" if review.fits[method] == "fits" else "fits only just (under 10% to spare)"
    if review.strategy[method] == "fsdp":
        # DDP loses to sharding when its copy is too big, or when it only just fits and sharding fits
        short = "more than" if review.single[method] > gpu.vram_gib else "which leaves under 10% to spare of"
        review.reasons.append(
            f"{METHOD_WORDS[method]} needs about {review.single[method]:.1f} GiB on each GPU with a whole copy, "
            f"{short} the {gpu.vram_gib:.1f} GiB of one {gpu.name}; sharded over {gpu.count} (Unsloth's FSDP2) "
            f"about {review.est[method]:.1f} GiB each: {word} on {gpu.count} with sharding."
        )
    else:
        review.reasons.append(
            f"{METHOD_WORDS[method]} needs about {review.est[method]:.1f} GiB on each of the {cards} "
            f"({gpu.vram_gib:.1f} GiB each), a whole copy per GPU (DDP): {word}."
        )
    if method != chosen:
        review.reasons.append(
            f"{METHOD_WORDS[chosen]} does not fit {cards} even sharded ({review.est[chosen]:.1f} GiB per GPU); "
            f"{METHOD_WORDS[method]} does."
        )
    _moe_note(review)
    return True


def _moe_note(review: _Review) -> None:
    dims = review.model.dims
    if dims.is_moe:
        review.reasons.append(
            f"Mixture of experts: all {dims.experts} experts must be in memory although a token uses only {dims.experts_per_token}."
        )


def _sibling_key(model: Model) -> tuple[str, float, str]:
    return (model.family, round(model.params_b, 1), model.modality)


def _check_kind(kept: list[_Review], wanted: str, rows: int | None, dropped: list[Dropped]) -> list[_Review]:
    """Drop a model when its sibling of the wanted kind is on the list; keep it, with a reason, otherwise."""
    by_key: dict[tuple[str, float, str], dict[str, _Review]] = {}
    for review in kept:
        by_key.setdefault(_sibling_key(review.model), {})[review.model.kind] = review
    prefer = "instruct" if wanted == "either" else wanted
    rows_words = f"with {rows} rows" if rows is not None else "without a dataset yet"
    result = []
    for review in kept:
        model = review.model
        siblings = by_key[_sibling_key(model)]
        if model.kind == prefer:
            review.reasons.append(_kind_words(model.kind, wanted, rows_words))
            result.append(review)
            continue
        sibling = siblings.get(prefer)
        if sibling is not None:
            if wanted == "either":
                reason = f"Its instruct sibling {sibling.model.hf_id} is listed instead; {rows_words} either works, and this base model gives more control over the output format."
            else:
                reason = f"Its {prefer} sibling {sibling.model.hf_id} is listed instead: {rows_words} {_a(prefer)} {prefer} model is the better start."
            dropped.append(Dropped(model.hf_id, "kind", reason))
            continue
        if wanted == "either":
            review.reasons.append(_kind_words(model.kind, wanted, rows_words))
        else:
            review.kind_ok = False
            review.reasons.append(
                f"{_a(model.kind).capitalize()} {model.kind} model where {rows_words} {_a(prefer)} {prefer} model would suit better; no {prefer} version is in the catalog."
            )
        result.append(review)
    return result


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _kind_words(kind: str, wanted: str, rows_words: str) -> str:
    if wanted == "either":
        return f"{kind.capitalize()} model: {rows_words} either kind works."
    return f"{kind.capitalize()} model: the right kind {rows_words}."


def _size_band(params_b: float) -> int:
    """Start small: 7-9B first, then 3-7B, then 9-16B, then 1-3B, then 16-40B, then tiny, then huge."""
    for band, (low, high) in enumerate(
        ((6.5, 9.5), (2.5, 6.5), (9.5, 16.5), (0.9, 2.5), (16.5, 40.0), (0.0, 0.9))
    ):
        if low <= params_b < high:
            return band
    return 6


def _rank_key(review: _Review) -> tuple:
    model = review.model
    fit_rank = {"fits": 0, None: 0, "tight": 1}.get(review.fits.get(review.method), 2)
    return (
        not review.primary,
        not review.kind_ok,
        fit_rank,
        _size_band(model.params_b),
        _negated_month(model.released),  # newer first
        model.unsloth.unsloth_bnb_4bit is None,  # Unsloth's dynamic 4-bit available first
        -model.params_b,
        model.hf_id.lower(),
    )


def _negated_month(released: str) -> int:
    try:
        year, month = released.split("-")[:2]
        return -(int(year) * 12 + int(month))
    except ValueError:
        return 0


def _is_start_small(model: Model) -> bool:
    return (
        model.kind == "instruct"
        and 6.5 <= model.params_b < 9.5
        and model.unsloth.unsloth_bnb_4bit is not None
    )


def _ranked_lower_reason(review: _Review, shortlist: list[_Review]) -> str:
    model = review.model
    if not review.primary:
        return "Ranked below the shortlist: not a specialist for this use case."
    band = _size_band(model.params_b)
    if band >= 2 and shortlist and _size_band(shortlist[-1].model.params_b) < band:
        return f"Ranked below the shortlist: at {model.params_b:g}B it is further from the 7-8B start-small size than the models listed."
    return "Ranked below the shortlist: older or with fewer Unsloth builds than the models listed."


def _policy_reason(policy: str, plan: Plan) -> str:
    if policy == "commercial":
        why = "you need commercial use" if plan.needs_commercial_use else "the license policy is commercial"
        return f"License: {why}, so non-commercial and unverified licenses are dropped; conditions are shown per model."
    if policy == "permissive":
        return "License: permissive only (Apache 2.0, MIT): models with use policies, user caps or naming rules are dropped."
    return "License: any; each model's conditions are shown, including non-commercial ones."


def _gpu_reason(plan: Plan) -> str:
    gpu = plan.gpu
    method = METHOD_WORDS.get(plan.settings.method, plan.settings.method)
    if gpu is None:
        return f"No GPU chosen: memory estimates for {method} are shown but nothing is dropped for size; pass --gpu or --vram-gib."
    where = "detected on this machine" if gpu.detected else "chosen"
    fallback = "" if plan.settings.method == "qlora" else " (a lighter method is offered where it fits)"
    if gpu.count > 1:
        text = (
            f"GPU: {gpu.count} x {gpu.name} ({gpu.vram_gib:.1f} GiB each, {where}); a model trains with a whole "
            f"copy on each (DDP) when it fits one, else sharded over the {gpu.count}; models that do not fit "
            f"with {method} even sharded{fallback} are dropped."
        )
    else:
        text = f"GPU: {gpu.name} ({gpu.vram_gib:.1f} GiB, {where}); models that do not fit with {method}{fallback} are dropped."
    if not gpu.bf16:
        text += " It has no bf16, so training runs in fp16."
    return text


def _use_case_reason(use_case: str) -> str:
    return {
        "vision": "Use case vision: only vision models ftui can fine-tune on images (Qwen2.5-VL, Llama 3.2 Vision, Gemma 3 4B and up, Pixtral), sized with one image per row (or your data's).",
        "code": "Use case code: code models first (Qwen2.5-Coder, Codestral, DeepSeek-Coder-V2-Lite), general models after them.",
        "reasoning": "Use case reasoning: R1 distills and Qwen3 first, general models after them.",
        "general": "Use case general: strong current general models; code, reasoning-only and vision-only models are left out.",
    }.get(use_case, f"Use case {use_case}.")


def _nothing_left_reason(dropped: list[Dropped]) -> str:
    counts: dict[str, int] = {}
    for d in dropped:
        counts[d.category] = counts.get(d.category, 0) + 1
    worst = max(counts, key=lambda category: counts[category]) if counts else "none"
    hint = {
        "memory": "choose a bigger GPU or QLoRA",
        "license": "relax the license policy",
        "modality": "choose another use case",
        "use_case": "choose another use case",
    }.get(worst, "change the plan")
    return f"No model passes every rule (most were dropped for {worst.replace('_', ' ')}); {hint}."
