"""The advice rules, each pinned at its thresholds, on the real catalog."""

import pytest

from ftui.core.advice import advise, model_kind_for_rows, template_for
from ftui.core.catalog import load_catalog
from ftui.core.memory import estimate_peak_vram
from ftui.core.plan import DatasetSummary, GpuChoice, Plan, TrainingSettings


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def plan(
    rows=500, use_case="general", policy="any", gpu=None, method="qlora", fmt="alpaca", commercial=False
):
    return Plan(
        use_case=use_case,
        license_policy=policy,
        needs_commercial_use=commercial,
        gpu=gpu,
        dataset=DatasetSummary(source="t", rows=rows, format=fmt),
        settings=TrainingSettings(method=method),
    )


@pytest.mark.parametrize(
    ("rows", "kind"),
    [
        (0, "instruct"),
        (1, "instruct"),
        (299, "instruct"),
        (300, "either"),
        (999, "either"),
        (1000, "base"),
        (50_000, "base"),
    ],
)
def test_rows_decide_base_or_instruct_at_the_thresholds(rows, kind):
    decision = model_kind_for_rows(rows)
    assert decision.value == kind
    assert str(rows) in decision.reason


def test_no_dataset_means_instruct():
    assert model_kind_for_rows(None).value == "instruct"


@pytest.mark.parametrize(
    ("rows", "kind"), [(299, "instruct"), (300, "either"), (999, "either"), (1000, "base")]
)
def test_advise_follows_the_row_rule(catalog, rows, kind):
    advice = advise(plan(rows=rows), catalog)
    assert advice.model_kind == kind
    kinds = {c.model.kind for c in advice.candidates}
    if kind == "base":
        assert kinds == {"base"}
    else:  # instruct, or either (instruct siblings listed first)
        assert kinds == {"instruct"}
    if kind == "either":
        sibling_drops = [d for d in advice.dropped if d.category == "kind"]
        assert sibling_drops and all("more control" in d.reason for d in sibling_drops)


def test_instruct_keeps_its_own_template_and_base_takes_alpaca_or_vicuna(catalog):
    instruct = catalog.find("meta-llama/Llama-3.1-8B-Instruct")
    base = catalog.find("meta-llama/Llama-3.1-8B")
    assert template_for(instruct, "instruct").value == "llama-3.1"
    assert template_for(base, "base", "alpaca").value == "alpaca"
    assert template_for(base, "base", "sharegpt").value == "vicuna"
    assert template_for(None, "instruct").value == "chatml"
    assert template_for(catalog.find("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"), "instruct").value is None


def test_advice_template_follows_rows(catalog):
    assert (
        advise(plan(rows=299), catalog).template
        == advise(plan(rows=299), catalog).candidates[0].model.chat_template
    )
    assert advise(plan(rows=1000, fmt="alpaca"), catalog).template == "alpaca"
    assert advise(plan(rows=1000, fmt="sharegpt"), catalog).template == "vicuna"


def test_vision_use_case_keeps_vision_models_only(catalog):
    advice = advise(plan(use_case="vision", rows=100), catalog)
    assert advice.candidates
    assert all(c.model.modality == "vision" for c in advice.candidates)
    modality = {d.hf_id for d in advice.dropped if d.category == "modality"}
    assert "Qwen/Qwen2.5-7B-Instruct" in modality
    assert "meta-llama/Llama-3.2-11B-Vision-Instruct" not in modality


def test_text_use_cases_drop_vision_only_models_but_keep_gemma_3(catalog):
    advice = advise(plan(rows=100), catalog)
    modality = {d.hf_id for d in advice.dropped if d.category == "modality"}
    assert "Qwen/Qwen2.5-VL-7B-Instruct" in modality
    assert "google/gemma-3-4b-it" not in modality


def test_code_models_rank_first_for_code(catalog):
    advice = advise(plan(use_case="code", rows=100), catalog)
    first = advice.candidates[0].model
    assert first.modality == "code"
    positions = [c.model.modality == "code" for c in advice.candidates]
    assert positions == sorted(positions, reverse=True)  # every code model before any general one


def test_reasoning_puts_r1_distills_and_qwen3_first(catalog):
    advice = advise(plan(use_case="reasoning", rows=100), catalog)
    top = advice.candidates[0].model
    assert top.family.startswith(("DeepSeek-R1", "Qwen3"))
    assert "reasoning" in top.use_cases


def test_commercial_policy_drops_non_commercial_and_shows_conditions(catalog):
    advice = advise(plan(rows=100, policy="commercial"), catalog)
    dropped = {d.hf_id: d for d in advice.dropped if d.category == "license"}
    assert "Qwen/Qwen2.5-3B-Instruct" in dropped
    assert "does not allow commercial use" in dropped["Qwen/Qwen2.5-3B-Instruct"].reason
    assert all(c.model.commercial_use in ("yes", "yes_with_conditions") for c in advice.candidates)
    llama = [c for c in advice.candidates if c.model.license.startswith("llama")]
    assert llama and any("with conditions" in r for r in llama[0].reasons)


def test_needing_commercial_use_tightens_any(catalog):
    advice = advise(plan(rows=100, commercial=True), catalog)
    assert advice.license_policy == "commercial"
    assert "Qwen/Qwen2.5-3B-Instruct" in {d.hf_id for d in advice.dropped if d.category == "license"}


def test_permissive_policy_keeps_apache_and_mit_only(catalog):
    advice = advise(plan(rows=100, policy="permissive"), catalog)
    assert {c.model.license for c in advice.candidates} <= {"apache-2.0", "mit"}
    assert "meta-llama/Llama-3.1-8B-Instruct" in {d.hf_id for d in advice.dropped if d.category == "license"}


def test_memory_drops_what_does_not_fit_and_says_by_how_much(catalog):
    t4 = GpuChoice("T4", 15.0, bf16=False)
    advice = advise(plan(rows=100, gpu=t4), catalog)
    memory = {d.hf_id: d.reason for d in advice.dropped if d.category == "memory"}
    assert "meta-llama/Llama-3.3-70B-Instruct" in memory
    assert "15.0 GiB" in memory["meta-llama/Llama-3.3-70B-Instruct"]
    for c in advice.candidates:
        assert c.fits[c.method] in ("fits", "tight")
        assert c.est_vram_gib[c.method] <= 15.0


def test_fit_goes_through_the_estimator(catalog):
    gpu = GpuChoice("L4", 22.5)
    advice = advise(plan(rows=100, gpu=gpu), catalog)
    for c in advice.candidates:
        for method in ("qlora", "lora", "full"):
            estimate = estimate_peak_vram(c.model.dims, TrainingSettings(method=method))
            assert c.est_vram_gib[method] == round(estimate.total_gib, 1)
            assert c.fits[method] == estimate.fit(22.5)


def test_start_small_a_7_8b_instruct_in_dynamic_4bit_when_it_fits(catalog):
    advice = advise(plan(rows=100, gpu=GpuChoice("RTX 4090", 23.99)), catalog)
    top = advice.candidates[0]
    assert 6.5 <= top.model.params_b < 9.5 and top.model.kind == "instruct"
    assert top.recommended_repo.endswith("-unsloth-bnb-4bit")
    assert top.reasons[0].startswith("Start small")


def test_start_small_goes_smaller_when_7_8b_does_not_fit(catalog):
    tiny = GpuChoice("6 GiB GPU", 6.0)
    advice = advise(plan(rows=100, gpu=tiny), catalog)
    assert advice.candidates
    assert all(c.model.params_b < 6.5 for c in advice.candidates)
    assert all(c.est_vram_gib["qlora"] <= 6.0 for c in advice.candidates)


def test_a_heavier_method_falls_back_to_one_that_fits(catalog):
    advice = advise(plan(rows=100, gpu=GpuChoice("RTX 4090", 23.99), method="full"), catalog)
    llama = next(c for c in advice.candidates if c.model.params_b > 6)
    assert llama.method in ("qlora", "lora")
    assert any("full fine-tuning needs about" in r for r in llama.reasons)


def test_every_model_is_either_a_candidate_or_dropped_with_a_reason(catalog):
    advice = advise(plan(rows=500, gpu=GpuChoice("T4", 15.0, bf16=False), policy="commercial"), catalog)
    listed = [c.model.hf_id for c in advice.candidates] + [d.hf_id for d in advice.dropped]
    assert sorted(listed) == sorted(m.hf_id for m in catalog.models)
    assert all(d.reason.endswith(".") for d in advice.dropped)
    assert all(c.reasons for c in advice.candidates)


def test_nothing_fits_says_so(catalog):
    advice = advise(plan(rows=100, gpu=GpuChoice("toy", 0.5)), catalog)
    assert advice.candidates == ()
    assert "No model passes every rule" in advice.reasons[-1]


def test_advice_is_a_pure_function_of_the_plan(catalog):
    p = plan(rows=700, use_case="code", gpu=GpuChoice("A10G", 22.49))
    assert advise(p, catalog).to_json() == advise(p, catalog).to_json()


# --- vision (issue 14) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rows,kind", [(299, "instruct"), (300, "either"), (999, "either"), (1000, "base"), (5000, "base")]
)
def test_vision_models_keep_their_processors_template_at_every_row_count(rows, kind):
    from ftui.core.plan import DatasetSummary

    data = DatasetSummary(source="x", rows=rows, format="messages", modality="vision", images_per_row=1,
                          image_size=(800, 600))  # fmt: skip
    advice = advise(Plan(use_case="vision", dataset=data), limit=20)
    assert advice.model_kind == kind
    assert advice.template is None and all(c.template is None for c in advice.candidates)
    assert "processor's own chat template" in advice.reasons[1]
    kinds = {c.model.kind for c in advice.candidates}
    if kind == "instruct":
        assert "instruct" in kinds and all(c.model.kind == "instruct" or any("no instruct version" in r for r in c.reasons) for c in advice.candidates)  # fmt: skip
    if kind == "base":
        assert advice.candidates[0].model.kind == "base"


def test_only_vision_models_ftui_can_train_are_shortlisted_and_license_notes_stay():
    advice = advise(Plan(use_case="vision"), limit=30)
    unsupported = {d.hf_id: d.reason for d in advice.dropped if d.category == "unsupported"}
    assert "microsoft/Phi-3.5-vision-instruct" in unsupported
    assert "not one ftui trains" in unsupported["microsoft/Phi-3.5-vision-instruct"]
    shortlisted = {c.model.hf_id: c for c in advice.candidates}
    assert "microsoft/Phi-3.5-vision-instruct" not in shortlisted
    llama = shortlisted["meta-llama/Llama-3.2-11B-Vision-Instruct"]
    assert any("EU" in reason for reason in llama.reasons)


def test_vision_memory_counts_the_datas_images():
    from ftui.core.plan import DatasetSummary

    small = DatasetSummary(source="x", rows=100, format="messages", modality="vision", images_per_row=1, image_size=(256, 256))  # fmt: skip
    large = DatasetSummary(source="x", rows=100, format="messages", modality="vision", images_per_row=4, image_size=(2048, 2048))  # fmt: skip
    by_model = {}
    for data in (small, large):
        advice = advise(Plan(use_case="vision", dataset=data), limit=30)
        by_model[data.images_per_row] = {c.model.hf_id: c.est_vram_gib["lora"] for c in advice.candidates}
    qwen = "Qwen/Qwen2.5-VL-7B-Instruct"
    assert by_model[4][qwen] > by_model[1][qwen]
