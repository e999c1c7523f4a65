"""A vision model's config.json, as transformers 5 writes it, is read as the vision model it is.

transformers 5 gives the text part of a composite config its own model_type (qwen2_5_vl_text,
mllama_text_model, gemma3_text). Read from there, a local Qwen2.5-VL folder was no vision family: its
estimate lacked the vision part (found on the H200: the vision GPU test's estimate was the text one) and
the advice said ftui could not train it on images.
"""

from __future__ import annotations

import pytest
from transformers import Gemma3Config, MllamaConfig, Qwen2_5_VLConfig

from ftui.core.dims import dims_from_hf_config
from ftui.core.memory import estimate_peak_vram
from ftui.core.memory_vision import VisionLoad
from ftui.core.plan import TrainingSettings
from ftui.core.vision import family_for


@pytest.mark.parametrize(
    ("config", "architecture"),
    [(Qwen2_5_VLConfig, "qwen2_5_vl"), (MllamaConfig, "mllama"), (Gemma3Config, "gemma3")],
)
def test_a_saved_vision_config_is_its_vision_family(config, architecture):
    written = config().to_dict()  # what save_pretrained writes into config.json
    assert written["text_config"]["model_type"] != architecture  # the case this is about
    dims = dims_from_hf_config(written, 3.0)
    assert dims.architecture == architecture
    assert family_for(dims.architecture) is not None
    estimate = estimate_peak_vram(dims, TrainingSettings(method="qlora"), vision=VisionLoad(1, (448, 448)))
    assert estimate.breakdown.get("vision", 0) > 0


def test_a_text_model_keeps_its_own_type():
    assert dims_from_hf_config(Gemma3Config().to_dict()["text_config"], 1.0).architecture == "gemma3_text"
