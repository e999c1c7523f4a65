"""Several GPUs in the estimator and the advice: per-GPU peaks for DDP and sharded, and which ftui uses."""

from __future__ import annotations

import dataclasses

import pytest

from ftui.core.advice import advise
from ftui.core.catalog import load_catalog
from ftui.core.memory import estimate_peak_vram
from ftui.core.plan import DatasetSummary, GpuChoice, Plan, TrainingSettings
from ftui.core.sharding import choose_way, per_gpu_estimate

RTX_4090_GIB = 23.99
QWEN_32B = "Qwen/Qwen2.5-32B-Instruct"
# Long rows in pairs: QLoRA of a 32B model then needs more than one 24 GB card holds.
LONG_ROWS = TrainingSettings(batch=4, seq=4096)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def qwen32(catalog):
    return catalog.find(QWEN_32B).dims


def test_ddp_holds_a_whole_copy_per_gpu_and_sharding_divides_what_it_can(qwen32):
    settings = TrainingSettings(method="lora")
    one = estimate_peak_vram(qwen32, settings).breakdown
    ddp = per_gpu_estimate(qwen32, settings, 4, "ddp").breakdown
    fsdp = per_gpu_estimate(qwen32, settings, 4, "fsdp").breakdown
    for part in ("weights", "lora", "gradients", "optimizer", "activations", "logits_and_loss"):
        assert ddp[part] == one[part]  # DDP: everything, on every GPU
    assert ddp["communication"] > one["gradients"]  # its buckets hold another copy of the gradients
    assert fsdp["optimizer"] == pytest.approx(one["optimizer"] / 4, abs=1e-3)
    assert fsdp["lora"] == pytest.approx(one["lora"] / 4, abs=1e-3)
    assert fsdp["weights"] == pytest.approx(one["weights"] / 4, abs=1e-3)
    assert fsdp["activations"] == one["activations"]  # each GPU trains its own micro-batch
    assert fsdp["logits_and_loss"] == one["logits_and_loss"]
    assert 0 < fsdp["gathered"] < one["weights"] / 4  # the root and two blocks, gathered for a moment
    assert fsdp["gather_staging"] < fsdp["gathered"]  # the root's all-gather buffer, cached on its stream
    assert fsdp["gradient_accumulators"] == pytest.approx(one["gradients"], abs=1e-3)  # float32, whole
    eight = per_gpu_estimate(qwen32, settings, 8, "fsdp")
    four = per_gpu_estimate(qwen32, settings, 4, "fsdp")
    assert eight.training_gib < four.training_gib  # more GPUs, less each


def test_a_4bit_model_loads_whole_on_every_gpu_before_it_is_sharded(qwen32):
    qlora = per_gpu_estimate(qwen32, TrainingSettings(), 8, "fsdp")
    assert qlora.loading_gib >= estimate_peak_vram(qwen32, TrainingSettings()).breakdown["weights"]
    assert qlora.total_gib == qlora.loading_gib > qlora.training_gib
    lora = per_gpu_estimate(qwen32, TrainingSettings(method="lora"), 8, "fsdp")
    assert lora.loading_gib < lora.training_gib  # 16-bit weights are read shard by shard


def test_ftui_takes_ddp_when_a_copy_fits_and_shards_when_it_does_not(catalog, qwen32):
    small = catalog.find("meta-llama/Llama-3.1-8B").dims
    assert choose_way(small, TrainingSettings(), 2, RTX_4090_GIB).way == "ddp"
    choice = choose_way(qwen32, LONG_ROWS, 2, RTX_4090_GIB, card="RTX 4090")
    # sharded it fits with under 10% to spare: what FSDP2 cannot divide (the root gathered and staged,
    # float32 gradient accumulators) takes about 3.4 GiB of what sharding saves
    assert choice.way == "fsdp" and choice.fits == "tight"
    assert choice.estimate.total_gib <= RTX_4090_GIB
    assert choice.options["ddp"].fit(RTX_4090_GIB) == "too_big"
    assert "Sharded over 2 GPUs" in choice.reason and "RTX 4090" in choice.reason
    assert choose_way(qwen32, LONG_ROWS, 1, RTX_4090_GIB).fits == "too_big"
    nothing = choose_way(qwen32, LONG_ROWS, 2, 15.0, card="T4")
    assert nothing.fits == "too_big" and nothing.reason.startswith("Too big for 2 x T4")


def _plan(count: int, vram: float = RTX_4090_GIB, name: str = "RTX 4090", settings=LONG_ROWS) -> Plan:
    return Plan(
        gpu=GpuChoice(name=name, vram_gib=vram, count=count),
        dataset=DatasetSummary(source="rows.jsonl", rows=200, format="alpaca"),
        settings=dataclasses.replace(settings),
    )


def _find(advice, hf_id):  # type: ignore[no-untyped-def]
    kept = {c.model.hf_id: c for c in advice.candidates}
    dropped = {d.hf_id: d for d in advice.dropped}
    return kept.get(hf_id), dropped.get(hf_id)


def test_advice_a_32b_model_too_big_for_one_24gb_card_fits_on_two_with_sharding(catalog):
    _, one = _find(advise(_plan(1), catalog, limit=100), QWEN_32B)
    assert one is not None and one.category == "memory"
    assert one.reason.startswith("Too big for the RTX 4090")
    two, dropped = _find(advise(_plan(2), catalog, limit=100), QWEN_32B)
    assert dropped is None and two is not None
    assert two.method == "qlora" and two.strategy["qlora"] == "fsdp"
    assert two.fits["qlora"] in ("fits", "tight")
    assert two.est_vram_gib["qlora"] <= RTX_4090_GIB
    assert any("on 2 with sharding" in reason for reason in two.reasons)  # "fits" or "fits only just"
    assert advise(_plan(2), catalog).to_json()["gpu"]["count"] == 2


def test_advice_a_32b_model_that_fits_on_neither_one_nor_two_cards(catalog):
    # Two 16 GB cards: neither training sharded (19.5 GiB a card) nor the load of the whole 4-bit model
    # on each (18.8 GiB) fits one of them.
    recipe = TrainingSettings()  # ftui's defaults
    _, one = _find(advise(_plan(1, 15.0, "T4", recipe), catalog, limit=100), QWEN_32B)
    _, two = _find(advise(_plan(2, 15.0, "T4", recipe), catalog, limit=100), QWEN_32B)
    assert one is not None and one.category == "memory"
    assert two is not None and two.category == "memory"
    assert two.reason.startswith("Too big for 2 x T4: even QLoRA sharded over the 2")
    # where the load is the peak, the reason says so: a 70B model on two 24 GB cards
    _, big = _find(advise(_plan(2, settings=recipe), catalog, limit=100), "meta-llama/Llama-3.3-70B-Instruct")
    assert big is not None and big.category == "memory" and "while loading" in big.reason


def test_one_card_advice_is_what_it_was(catalog):
    plan = _plan(1, settings=TrainingSettings())
    for candidate in advise(plan, catalog, limit=100).candidates:
        single = estimate_peak_vram(candidate.model.dims, dataclasses.replace(plan.settings, method="qlora"))
        assert candidate.est_vram_gib["qlora"] == round(single.total_gib, 1)
        assert set(candidate.strategy.values()) == {"single"}
