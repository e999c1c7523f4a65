"""Image+text datasets: every format people have, every image checked, every problem with its row."""

from __future__ import annotations

import json
import socket
import time

import pytest

from ftui.core.data import inspect
from ftui.core.data.convert import vision_examples
from tests.helpers.images import bomb_png, colour_rows, truncated_png, write_png, write_rows


def by_kind(report) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
    found: dict[str, list[int]] = {}
    for problem in report.problems:
        found.setdefault(problem.kind, []).append(problem.line)
    return found


def test_messages_with_image_parts_are_read_checked_and_counted(tmp_path):
    path = write_rows(tmp_path / "data.jsonl", colour_rows(tmp_path, 6))
    report = inspect(path)
    assert (report.format, report.modality, report.usable_rows) == ("messages", "vision", 6)
    assert report.problem_counts == {}
    images = report.images
    assert (images.images, images.rows_with_images, images.most_per_row) == (6, 6, 1)
    assert images.width == {"p50": 56, "p95": 56, "max": 56}
    # 56x56 is Qwen2.5-VL's minimum: 2x2 patches of 28 px, one token each, + vision start and end
    assert images.image_tokens["max"] == 6 and images.tokens_for == "Qwen2.5-VL"
    assert report.tokens.max >= 6 + 4  # text and image tokens together
    data = report.to_json()
    assert data["modality"] == "vision" and data["images"]["images"] == 6


def test_llava_sharegpt_rows_with_image_and_the_image_marker(tmp_path):
    write_png(tmp_path / "a.png")
    rows = [
        {"id": "1", "image": "a.png", "conversations": [{"from": "human", "value": "<image>\nWhat is it?"}, {"from": "gpt", "value": "A box."}]},
        {"id": "2", "conversations": [{"from": "human", "value": "<image>\nAnd this?"}, {"from": "gpt", "value": "Nothing."}]},
        {"id": "3", "image": "a.png", "conversations": [{"from": "human", "value": "<image> <image> two?"}, {"from": "gpt", "value": "One."}]},
    ]  # fmt: skip
    (tmp_path / "llava.json").write_text(json.dumps(rows))
    report = inspect(tmp_path / "llava.json")
    assert report.format == "sharegpt" and report.columns["image"] == "image"
    assert by_kind(report) == {"no_image": [2], "image_mismatch": [3]}
    (example,) = list(vision_examples(tmp_path / "llava.json", skip_bad_rows=True))
    assert example.messages[0]["content"] == [{"type": "image"}, {"type": "text", "text": "What is it?"}]
    assert example.images[0].kind == "path" and example.reference == "A box."


def test_a_parquet_column_of_image_bytes_with_question_and_answer_columns(tmp_path):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    def png(colour) -> bytes:  # type: ignore[no-untyped-def]
        out = io.BytesIO()
        Image.new("RGB", (300, 200), colour).save(out, format="PNG")
        return out.getvalue()

    images = [{"bytes": png((i * 20, 0, 0)), "path": f"{i}.png"} for i in range(4)] + [
        {"bytes": None, "path": None}
    ]
    table = pa.table({"image": images, "question": ["What colour?"] * 5, "answer": ["red"] * 5})
    pq.write_table(table, tmp_path / "train.parquet")
    report = inspect(tmp_path / "train.parquet")
    assert report.format == "prompt_completion" and report.columns["image"] == "image"
    assert report.usable_rows == 4 and by_kind(report) == {"no_image": [5]}
    assert report.images.width["max"] == 300
    example = next(vision_examples(tmp_path / "train.parquet", skip_bad_rows=True))
    assert example.images[0].kind == "bytes"
    assert example.messages[0]["content"][0] == {"type": "image"}  # column images open the first user turn


def test_a_csv_with_an_image_path_column_and_a_caption(tmp_path):
    write_png(tmp_path / "pics" / "cat.png")
    (tmp_path / "captions.csv").write_text("file_name,text\npics/cat.png,a cat\npics/dog.png,a dog\n")
    report = inspect(tmp_path / "captions.csv")
    assert report.format == "text" and report.columns["image"] == "file_name"
    assert by_kind(report) == {"missing_image": [3]}  # the CSV's line 3
    example = next(vision_examples(tmp_path / "captions.csv", skip_bad_rows=True))
    assert [m["role"] for m in example.messages] == ["user", "assistant"]
    assert example.messages[0]["content"] == [{"type": "image"}] and example.reference == "a cat"


def test_every_bad_image_is_a_problem_with_its_row(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    write_png(tmp_path / "ok.png")
    truncated_png(tmp_path / "cut.png")
    bomb_png(tmp_path / "bomb.png")
    (tmp_path / "text.png").write_text("not an image")
    outside = write_png(tmp_path.parent / f"{tmp_path.name}-elsewhere.png")

    def row(image):  # type: ignore[no-untyped-def]
        content = [{"type": "image", "image": image}, {"type": "text", "text": "what is it"}]
        return {
            "messages": [{"role": "user", "content": content}, {"role": "assistant", "content": "a thing"}]
        }

    rows = [row("ok.png"), row("gone.png"), row("cut.png"), row("bomb.png"), row("text.png"),
            row("https://example.com/cat.png"), row(str(outside)), row(42)]  # fmt: skip
    started = time.perf_counter()
    report = inspect(write_rows(tmp_path / "data.jsonl", rows))
    assert time.perf_counter() - started < 5  # the offline URL is one sentence, not a wait
    assert by_kind(report) == {
        "missing_image": [2],
        "unreadable_image": [3, 5],
        "image_too_large": [4],
        "image_url": [6],
        "wrong_type": [8],
    }
    messages = {p.kind: p.message for p in report.problems}
    assert "32,768 x 16,384 pixels" in messages["image_too_large"]
    assert "offline" in messages["image_url"] and "download the image" in messages["image_url"]
    assert report.usable_rows == 2
    assert report.images.outside_folder == 1 and report.images.outside_examples == [(7, str(outside))]
    assert any("outside the data file's folder" in note for note in report.advice["notes"])


def test_an_unreachable_image_url_is_a_problem_and_later_urls_are_not_tried(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("FTUI_OFFLINE", raising=False)
    with socket.socket() as free:  # a port nobody listens on: the connection is refused at once
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    rows = [
        {"image": f"http://127.0.0.1:{port}/{i}.png", "question": "what", "answer": "that"} for i in range(3)
    ]
    report = inspect(write_rows(tmp_path / "data.jsonl", rows))
    assert by_kind(report) == {"image_url": [1, 2, 3]}
    assert all("could not be reached" in p.message for p in report.problems)


def test_the_models_limits_more_images_than_it_takes_and_image_tokens_past_the_max_length(tmp_path):
    for name, size in (("a.png", (64, 64)), ("b.png", (64, 64)), ("big.png", (512, 512))):
        write_png(tmp_path / name, size)

    def row(*images):  # type: ignore[no-untyped-def]
        content = [{"type": "image", "image": i} for i in images] + [{"type": "text", "text": "compare"}]
        return {"messages": [{"role": "user", "content": content}, {"role": "assistant", "content": "same"}]}

    path = write_rows(tmp_path / "data.jsonl", [row("a.png"), row("a.png", "b.png"), row("big.png")])
    llama = inspect(path, model="meta-llama/Llama-3.2-11B-Vision-Instruct")
    assert by_kind(llama) == {"too_many_images": [2]}
    assert "takes 1" in llama.problems[0].message and llama.images.tokens_for == "Llama 3.2 Vision"
    qwen = inspect(path, model="Qwen/Qwen2.5-VL-7B-Instruct", max_length=256)
    assert by_kind(qwen) == {"image_tokens_overflow": [3]}  # 512x512: 18x18 = 324 tokens + 2
    assert "326 image tokens" in qwen.problems[0].message
    gemma = inspect(path, model="google/gemma-3-4b-it", max_length=2048)
    assert gemma.problem_counts == {} and gemma.images.image_tokens["max"] == 2 * 260


def test_a_text_dataset_is_not_a_vision_one(tmp_path):
    rows = [{"instruction": "say <image>", "output": "<image>"}]
    report = inspect(write_rows(tmp_path / "data.jsonl", rows))
    assert report.modality == "text" and report.images is None and report.usable_rows == 1


@pytest.mark.parametrize("size", [(56, 56), (640, 480), (1280, 720), (300, 2000), (4000, 3000)])
def test_qwen_image_tokens_match_its_own_image_processor(size):
    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from ftui.core.vision import family_for

    family = family_for("qwen2_5_vl")
    processor = Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=12845056)
    width, height = family.resized(*size)  # Unsloth's collator first
    patches = processor.get_number_of_image_patches(height, width, {})
    assert family.tower_tokens(*size) == patches
    assert family.image_tokens(*size) == patches // 4 + 2


@pytest.mark.parametrize("size", [(560, 560), (1120, 560), (300, 900), (2000, 2000), (100, 50)])
def test_llama_tiles_match_its_own_canvas_choice(size):
    from transformers.models.mllama.image_processing_pil_mllama import get_optimal_tiled_canvas

    from ftui.core.vision import family_for

    family = family_for("mllama")
    width, height = size
    canvas_h, canvas_w = get_optimal_tiled_canvas(height, width, 4, 560)
    assert family.tiles(width, height) == (canvas_h // 560) * (canvas_w // 560)


@pytest.mark.parametrize("size", [(64, 64), (1024, 768), (3000, 1000)])
def test_pixtral_image_tokens_match_its_own_rule(size):
    import numpy as np
    from transformers.models.pixtral.image_processing_pil_pixtral import (
        _num_image_tokens,
        get_resize_output_image_size,
    )

    from ftui.core.vision import family_for

    family = family_for("llava")
    width, height = family.resized(*size)
    image = np.zeros((height, width, 3), dtype=np.uint8)
    out_h, out_w = get_resize_output_image_size(image, 1024, (16, 16))
    rows, cols = _num_image_tokens((out_h, out_w), (16, 16))
    assert family.image_tokens(*size) == rows * cols + rows


def test_a_hub_dataset_id_with_an_image_feature_from_the_local_caches(tmp_path, monkeypatch):
    import datasets

    from tests.helpers.images import write_png

    paths = [str(write_png(tmp_path / "src" / f"{i}.png", (30 + i, 20), (i * 50, 0, 0))) for i in range(3)]
    features = datasets.Features({"image": datasets.Image(), "text": datasets.Value("string")})
    table = datasets.Dataset.from_dict({"image": paths, "text": ["a", "b", "c"]}, features=features)
    hub = tmp_path / "hub"
    snapshot = hub / "datasets--me--pics" / "snapshots" / "abc123" / "data"
    snapshot.mkdir(parents=True)
    table.to_parquet(str(snapshot / "train-00000-of-00001.parquet"))  # the Image feature embeds the bytes
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    report = inspect("me/pics")
    assert (report.kind, report.format, report.usable_rows) == ("parquet", "text", 3)
    assert report.columns["image"] == "image" and report.images.width["max"] == 32

    built = tmp_path / "datasets" / "me___shots" / "default" / "0.0.0" / "f00"
    table.save_to_disk(str(tmp_path / "saved"))  # Arrow stream files, as the datasets cache holds them
    built.mkdir(parents=True)
    arrow = next((tmp_path / "saved").glob("*.arrow"))
    (built / "shots-train.arrow").write_bytes(arrow.read_bytes())
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets"))
    report = inspect("me/shots")
    assert (report.kind, report.usable_rows, report.images.images) == ("arrow", 3, 3)


def test_the_cli_reports_images_and_previews_a_vision_row(tmp_path):
    import subprocess
    import sys

    data = write_rows(tmp_path / "data.jsonl", colour_rows(tmp_path, 3))
    result = subprocess.run(
        [sys.executable, "-m", "ftui", "inspect", str(data), "--preview", "1", "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["modality"] == "vision" and out["images"]["images"] == 3
    assert out["preview"] == ["image 1: images/0000.png\nuser: <image>what colour is this\nassistant: red"]
    text = subprocess.run(
        [sys.executable, "-m", "ftui", "inspect", str(data)], capture_output=True, text=True, timeout=60
    ).stdout
    assert "Images: 3 in 3 rows" in text and "Image tokens per row (Qwen2.5-VL)" in text
