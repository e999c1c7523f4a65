"""Download bars read back from a run's log (huggingface_hub's tqdm output, as train.log holds it)."""

from ftui.core.line_buffer import LineBuffer
from ftui.core.runs.download import parse_download, size_words


def test_a_byte_bar_is_a_download_with_its_figures():
    bar = parse_download(
        "model-00001-of-00004.safetensors:  45%|████▌     | 2.07G/4.60G [00:10<00:12, 201MB/s]"
    )
    assert bar is not None and bar.what == "model-00001-of-00004.safetensors"
    assert round(bar.done_bytes) == 2_070_000_000 and bar.total_bytes == 4.6e9
    assert bar.bytes_per_second == 201e6 and bar.eta_seconds == 12 and round(bar.fraction, 2) == 0.45


def test_a_bar_that_has_not_begun_and_one_without_a_size_are_downloads_too():
    first = parse_download("model.safetensors:   0%|          | 0.00/4.98G [00:00<?, ?B/s]")
    assert first is not None and first.bytes_per_second is None and first.eta_seconds is None
    unsized = parse_download("config.json: 1.58kB [00:00, 4.09MB/s]")
    assert unsized is not None and unsized.total_bytes == 0 and unsized.done_bytes == 1580


def test_training_bars_and_other_lines_are_not_downloads():
    for line in (
        "  1%|          | 4/400 [00:19<28:50,  1.2s/it]",
        "Fetching 4 files:  25%|██▌       | 1/4 [00:05<00:15,  5.01s/it]",
        "{'loss': '5.97', 'grad_norm': '0.2493'}",
        "step 3: 45% done",
    ):
        assert parse_download(line) is None, line


def test_a_line_buffer_hands_download_bars_to_its_divert_and_keeps_the_rest():
    taken: list[str] = []
    buffer = LineBuffer(divert=lambda line: parse_download(line) is not None and not taken.append(line))
    buffer.feed("loading\rmodel.safetensors:  10%|█         | 460M/4.60G [00:02<00:18, 230MB/s]\r")
    buffer.feed("model.safetensors: 100%|██████████| 4.60G/4.60G [00:20<00:00, 230MB/s]\ntraining\n")
    assert buffer.drain() == ["loading", "training"] and len(taken) == 2


def test_sizes_are_in_the_hubs_decimal_units():
    assert [size_words(n) for n in (512, 1580, 201e6, 4.6e9)] == ["512 B", "1.6 kB", "201.0 MB", "4.6 GB"]
