import dataclasses

import pytest

from ftui.core.errors import UsageError, UserError
from ftui.core.plan import DatasetSummary, GpuChoice, Plan, TrainingSettings
from ftui.core.run_config import RunConfig, parse_gpus, resolve


def test_round_trip_through_toml_keeps_everything(tmp_path):
    config = RunConfig(
        model="meta-llama/Llama-3.1-8B-Instruct",
        data="/data/x.jsonl",
        repo="unsloth/x-bnb-4bit",
        template="llama-3.1",
        mapping={"instruction": "question"},
        python="/opt/env/bin/python",
        name="first",
        settings=TrainingSettings(max_steps=60, gpus=(0, 1), save_gguf="q4_k_m", responses_only=True),
    )
    path = config.write(tmp_path / "config.toml")
    assert RunConfig.read(path) == config
    text = path.read_text()
    assert "max_steps = 60" in text and "gpus = [\n    0,\n    1,\n]" in text


def test_none_values_are_left_out_and_come_back_as_defaults(tmp_path):
    config = RunConfig(model="m", data="d.jsonl")
    text = config.to_toml()
    assert "repo" not in text and "max_steps" not in text and "save_gguf" not in text
    assert RunConfig.read(config.write(tmp_path / "c.toml")).settings == TrainingSettings()


@pytest.mark.parametrize(
    "body, words",
    [
        ('model = "m"\ndata = "d"\nmodle = "x"\n', "unknown key 'modle'"),
        ('model = "m"\ndata = "d"\n[training]\nbatchsize = 2\n', "unknown key 'batchsize'"),
        ('model = "m"\ndata = "d"\n[training]\nbatch = "two"\n', "batch = 'two' has the wrong type"),
        (
            'model = "m"\ndata = "d"\n[training]\nresponses_only = 1\n',
            "responses_only = 1 has the wrong type",
        ),
        ('data = "d"\n', "which model"),
        ('model = "m"\ndata = "d"\n[training]\nmethod = "dora"\n', "method 'dora'"),
        ('model = "m"\ndata = "d"\n[training]\nbatch = 0\n', "batch must be at least 1"),
        ('model = "m"\ndata = "d\n', "not valid TOML"),
    ],
)
def test_mistakes_are_one_sentence_naming_the_key(tmp_path, body, words):
    path = tmp_path / "c.toml"
    path.write_text(body)
    with pytest.raises(UserError) as caught:
        RunConfig.read(path)
    assert words in str(caught.value)
    assert str(caught.value).count("\n") == 0


def test_a_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no config file"):
        RunConfig.read(tmp_path / "nope.toml")


def test_flags_override_the_file_and_epochs_clear_max_steps():
    config = RunConfig(model="m", data="d", settings=TrainingSettings(max_steps=100, batch=8))
    changed = config.with_overrides(batch=2, learning_rate=1e-4, epochs=3.0, name=None)
    assert changed.settings.batch == 2 and changed.settings.learning_rate == 1e-4
    assert changed.settings.epochs == 3.0 and changed.settings.max_steps is None
    assert config.settings.batch == 8  # the original is untouched
    with pytest.raises(UsageError):
        config.with_overrides(seq=0)


def test_from_plan_takes_model_repo_settings_and_data():
    plan = Plan(
        model="Qwen/Qwen2.5-7B-Instruct",
        repo="unsloth/Qwen2.5-7B-Instruct-bnb-4bit",
        dataset=DatasetSummary(source="/d/train.jsonl", rows=500, format="sharegpt"),
        settings=dataclasses.replace(TrainingSettings(), rank=32),
    )
    config = RunConfig.from_plan(plan, template="qwen-2.5", python="/env/bin/python")
    assert (config.model, config.repo, config.data, config.format) == (
        "Qwen/Qwen2.5-7B-Instruct",
        "unsloth/Qwen2.5-7B-Instruct-bnb-4bit",
        "/d/train.jsonl",
        "sharegpt",
    )
    assert config.settings.rank == 32 and config.template == "qwen-2.5" and config.python == "/env/bin/python"
    config.settings.rank = 8
    assert plan.settings.rank == 32  # a copy: editing the run does not edit the plan
    with pytest.raises(UserError):
        RunConfig.from_plan(Plan())


def test_from_plan_trains_on_as_many_of_this_machines_cards_as_planned():
    data = DatasetSummary(source="/d/train.jsonl", rows=500, format="sharegpt")
    here = GpuChoice(name="NVIDIA H200", vram_gib=139.8, detected=True, count=2)
    config = RunConfig.from_plan(Plan(model="m", dataset=data, gpu=here))
    assert config.settings.gpus == (0, 1)
    # A card to rent is a plan for another machine; one card of this one is the default (no torchrun).
    rented = GpuChoice(name="RTX 4090", vram_gib=24.0, count=2)
    assert RunConfig.from_plan(Plan(model="m", dataset=data, gpu=rented)).settings.gpus == ()
    one = GpuChoice(name="NVIDIA H200", vram_gib=139.8, detected=True)
    assert RunConfig.from_plan(Plan(model="m", dataset=data, gpu=one)).settings.gpus == ()


def test_resolve_makes_paths_absolute_from_the_config_folder(tmp_path, monkeypatch):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "train.jsonl").write_text("{}\n")
    (tmp_path / "cfg" / "model").mkdir()
    monkeypatch.chdir(tmp_path)
    config = resolve(RunConfig(model="model", data="train.jsonl"), base_dir=tmp_path / "cfg")
    assert config.data == str(tmp_path / "cfg" / "train.jsonl")
    assert config.model == str(tmp_path / "cfg" / "model")
    assert config.template == "model"  # not in the catalog: the model's own template


def test_resolve_refuses_a_missing_local_file_before_any_run_exists(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        resolve(RunConfig(model="org/name", data=str(tmp_path / "missing.jsonl")))


def test_resolve_takes_repo_and_template_from_the_catalog(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("{}\n")
    from ftui.core.catalog import load_catalog

    model = load_catalog().find("meta-llama/Llama-3.1-8B-Instruct")
    qlora = resolve(RunConfig(model="meta-llama/Llama-3.1-8B-Instruct", data=str(data)))
    assert qlora.repo == model.repo_for("qlora") and qlora.template == model.chat_template
    lora = resolve(qlora.with_overrides(method="lora"), method_changed=True)
    assert lora.repo == model.repo_for("lora") and lora.repo != qlora.repo


def test_parse_gpus():
    assert parse_gpus("0,1") == (0, 1) and parse_gpus(" 3 ") == (3,) and parse_gpus(None) is None
    for bad in ("0;1", "a", "0,0", ""):
        with pytest.raises(UsageError):
            parse_gpus(bad)
