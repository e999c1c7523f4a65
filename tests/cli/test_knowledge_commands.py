"""`ftui models / advise / decode / license` as real processes: JSON shapes, exit codes, one-sentence errors."""

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

FTUI = str(Path(sys.executable).parent / "ftui")


def ftui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([FTUI, *args], capture_output=True, text=True, timeout=60)


def ftui_json(*args: str):
    result = ftui(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


MODEL_FIELDS = {
    "hf_id", "name", "family", "params_b", "params_active_b", "modality", "kind", "use_cases", "license",
    "license_class", "commercial_use", "license_conditions", "gated", "context", "chat_template", "unsloth",
}  # fmt: skip


def test_models_json_shape():
    models = ftui_json("models")
    assert len(models) >= 80
    for model in models:
        assert set(model) == MODEL_FIELDS
        assert model["commercial_use"] in ("yes", "yes_with_conditions", "no", "unknown")
        assert set(model["unsloth"]) == {"bf16", "bnb_4bit", "unsloth_bnb_4bit"}
        assert isinstance(model["params_b"], float)


def test_models_filters():
    code = ftui_json("models", "--use-case", "code", "--license", "permissive")
    assert code and all("code" in m["use_cases"] and m["license_class"] == "permissive" for m in code)
    vision = ftui_json("models", "--modality", "vision", "--kind", "instruct")
    assert vision and all(m["modality"] == "vision" and m["kind"] == "instruct" for m in vision)
    commercial = ftui_json("models", "--license", "commercial")
    assert "Qwen/Qwen2.5-3B" not in {m["hf_id"] for m in commercial}


def test_models_text_is_a_table():
    result = ftui("models", "--use-case", "vision")
    assert result.returncode == 0
    assert result.stdout.startswith("MODEL")
    assert "meta-llama/Llama-3.2-11B-Vision-Instruct" in result.stdout


CANDIDATE_FIELDS = {
    "hf_id", "recommended_repo", "method", "params_b", "kind", "modality", "license", "commercial_use", "gated",
    "fits", "est_vram_gib", "strategy", "template", "reasons",
}  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "kind"), [(299, "instruct"), (300, "either"), (999, "either"), (1000, "base")]
)
def test_advise_json_shape_and_row_rule(rows, kind):
    advice = ftui_json("advise", "--rows", str(rows), "--gpu", "rtx 4090")
    assert set(advice) == {
        "use_case", "license_policy", "gpu", "method", "model_kind", "template", "reasons", "candidates", "dropped",
    }  # fmt: skip
    assert advice["model_kind"] == kind
    assert advice["gpu"] == {"name": "RTX 4090", "vram_gib": 23.99, "bf16": True, "count": 1}
    assert advice["reasons"] and all(isinstance(r, str) for r in advice["reasons"])
    for candidate in advice["candidates"]:
        assert set(candidate) == CANDIDATE_FIELDS
        assert set(candidate["fits"]) == set(candidate["est_vram_gib"]) == {"qlora", "lora", "full"}
        assert set(candidate["strategy"].values()) == {"single"}  # one card: no DDP, no sharding
        assert candidate["fits"][candidate["method"]] in ("fits", "tight")
        assert candidate["reasons"]
    for dropped in advice["dropped"]:
        assert set(dropped) == {"hf_id", "category", "reason"}


def test_advise_vram_and_license_flags():
    advice = ftui_json(
        "advise", "--rows", "50", "--use-case", "code", "--license", "permissive", "--vram-gib", "12"
    )
    assert advice["gpu"]["vram_gib"] == 12
    assert advice["candidates"][0]["modality"] == "code"
    assert all(c["license"] in ("apache-2.0", "mit") for c in advice["candidates"])
    assert all(c["est_vram_gib"][c["method"]] <= 12 for c in advice["candidates"])


def test_advise_without_gpu_estimates_but_does_not_judge_fit():
    advice = ftui_json("advise", "--rows", "50")
    assert advice["gpu"] is None
    assert all(c["fits"]["qlora"] is None for c in advice["candidates"])


def test_advise_text():
    result = ftui("advise", "--rows", "120", "--gpu", "t4")
    assert result.returncode == 0
    assert "Shortlist:" in result.stdout and "Dropped" in result.stdout
    assert "no bf16" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["advise", "--rows", "0"], 2, "--rows: takes a whole number of 1 or more, not 0"),
        (["advise", "--rows", "10", "--gpu", "voodoo"], 1, "ftui does not know the GPU 'voodoo'"),
        (["advise", "--rows", "10", "--gpu", "t4", "--vram-gib", "8"], 2, "not allowed with argument"),
        (["advise"], 2, "following arguments are required: --rows"),
        (["advise", "--rows", "ten"], 2, "--rows: takes a whole number, not 'ten'"),
        (["license", "no such license"], 1, "is neither a catalog model, a Hub repo id nor a license id"),
        (["models", "--license", "free"], 2, "invalid choice"),
    ],
)
def test_errors_are_one_sentence_with_the_right_exit_code(args, code, message):
    result = ftui(*args)
    assert result.returncode == code
    assert message in result.stderr
    assert result.stderr.startswith("ftui: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_decode_json_shape():
    decoded = ftui_json("decode", "unsloth/llama-3.1-8b-unsloth-bnb-4bit")
    assert {"org", "family", "version", "size_b", "kind", "quantization", "explanation"} <= set(decoded)
    assert decoded["org"] == "unsloth"
    assert decoded["kind"] == "base"
    assert decoded["quantization"] == "unsloth_bnb_4bit"
    assert decoded["size_b"] == pytest.approx(8.03)


def test_decode_text_names_unknowns():
    result = ftui("decode", "unsloth/llama-3-8b-bnb-4bit")
    assert result.returncode == 0
    assert "Unknown:       kind" in result.stdout


def test_license_by_model_and_by_id():
    by_model = ftui_json("license", "unsloth/Llama-3.2-11B-Vision-Instruct-bnb-4bit")
    assert by_model["model"]["hf_id"] == "meta-llama/Llama-3.2-11B-Vision-Instruct"
    assert by_model["license"]["id"] == "llama3.2"
    assert {c["id"] for c in by_model["license"]["clauses"]} >= {
        "mau_700m",
        "built_with_llama",
        "llama_name",
        "eu_multimodal",
    }
    by_id = ftui_json("license", "APACHE-2.0")
    assert by_id["model"] is None
    assert by_id["license"]["class"] == "permissive"
    assert "Qwen/Qwen2.5-7B" in by_id["license"]["models"]
    text = ftui("license", "qwen-research")
    assert "non-commercial" in text.stdout and "not legal advice" in text.stdout


class _StandInHub(http.server.BaseHTTPRequestHandler):
    """Answers /api/models/<repo> the way the Hub does, for one repo; 404 with RepoNotFound otherwise."""

    CONFIG = {"model_type": "llama", "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
              "num_attention_heads": 8, "num_key_value_heads": 2, "vocab_size": 1000}  # fmt: skip

    def do_HEAD(self):  # noqa: N802
        self.do_GET(head=True)

    def do_GET(self, head=False):  # noqa: N802 - the name http.server calls
        if self.path.startswith("/someone/tiny-model/resolve/"):
            commit = "0" * 40
            headers = {"ETag": '"tiny-config"', "X-Repo-Commit": commit}
            self._reply(200, self.CONFIG, headers, head=head)
        elif self.path.startswith("/api/models/someone/tiny-model"):
            info = {
                "id": "someone/tiny-model",
                "private": False,
                "gated": "auto",
                "cardData": {"license": "apache-2.0"},
                "pipeline_tag": "text-generation",
                "safetensors": {"parameters": {"BF16": 1_234_567_890}, "total": 1_234_567_890},
                "siblings": [],
            }
            self._reply(200, info, {})
        else:
            self._reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})

    def _reply(self, status, body, headers, head=False):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def online_hub(tmp_path):
    """HF_ENDPOINT pointing at a stand-in Hub on localhost (this machine has no route to the real one)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StandInHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{server.server_address[1]}", HF_HOME=str(tmp_path / "hf"))
    yield env
    server.shutdown()


def test_license_of_a_repo_outside_the_catalog_asks_the_hub(online_hub):
    result = subprocess.run(
        [FTUI, "license", "someone/tiny-model", "--json"],
        capture_output=True,
        text=True,
        env=online_hub,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["model"] == {
        "hf_id": "someone/tiny-model",
        "source": "hub",
        "license_tag": "apache-2.0",
        "commercial_use": "yes",
        "gated": True,
        "params_b": 1.235,
    }
    assert payload["license"]["class"] == "permissive"
    missing = subprocess.run(
        [FTUI, "license", "someone/missing"], capture_output=True, text=True, env=online_hub, timeout=60
    )
    assert missing.returncode == 1
    assert missing.stderr == "ftui: The Hub has no repo someone/missing (or it is private); check the name.\n"


def test_license_of_a_repo_outside_the_catalog_offline_is_one_sentence():
    result = ftui("license", "someone/tiny-model")  # the test session runs with HF_HUB_OFFLINE=1
    assert result.returncode == 1
    assert "HF_HUB_OFFLINE is set" in result.stderr and result.stderr.count("\n") == 1


def test_dims_of_a_repo_outside_the_catalog_come_from_the_hub_when_online(online_hub):
    code = "from ftui.core.catalog import dims_for; d = dims_for('someone/tiny-model'); print(d.layers, d.hidden, d.kv_heads)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=online_hub, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4", "256", "2"]


def test_advise_on_two_cards_turns_too_big_into_fits_with_sharding():
    # Qwen3-30B-A3B: every expert is held, about 18 GiB in 4 bits, more than one 24 GB card trains it in.
    one = ftui_json("advise", "--rows", "100", "--gpu", "rtx 4090", "--limit", "100")
    dropped = {d["hf_id"]: d for d in one["dropped"]}
    assert dropped["Qwen/Qwen3-30B-A3B"]["category"] == "memory"
    two = ftui_json("advise", "--rows", "100", "--gpus", "2", "--gpu", "rtx 4090", "--limit", "100")
    assert two["gpu"]["count"] == 2
    kept = {c["hf_id"]: c for c in two["candidates"]}
    assert "Qwen/Qwen3-30B-A3B" in kept, "it fits two 24 GB cards with sharding"
    candidate = kept["Qwen/Qwen3-30B-A3B"]
    assert candidate["strategy"]["qlora"] == "fsdp" and candidate["fits"]["qlora"] in ("fits", "tight")
    assert any("on 2 with sharding" in reason for reason in candidate["reasons"])
    assert kept["Qwen/Qwen3-8B"]["strategy"]["qlora"] == "ddp"  # what fits one card keeps a copy on each
    text = ftui("advise", "--rows", "100", "--gpus", "2")
    assert text.returncode == 2 and "--gpu NAME or --vram-gib X" in text.stderr
