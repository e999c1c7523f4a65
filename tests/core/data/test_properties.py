"""Bad input never crashes the inspector: generated malformed rows and files (hypothesis)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftui.core.data import BadRowError, inspect, training_texts
from ftui.core.data import readers as readers_module
from ftui.core.data.fast import count_lines
from ftui.core.data.formats import detect_format, to_messages
from ftui.core.data.problems import PROBLEM_KINDS, RowProblem
from ftui.core.data.readers import iter_rows, open_source
from ftui.core.errors import UserError

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
keys = st.sampled_from(
    [
        "instruction",
        "input",
        "output",
        "conversations",
        "messages",
        "prompt",
        "completion",
        "text",
        "from",
        "value",
        "role",
        "content",
        "system",
        "x",
    ]
)
roles = st.sampled_from(["user", "assistant", "system", "human", "gpt", "tool", "", "USER"])
turns = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "role": roles | json_values,
            "content": st.text(max_size=10) | json_values,
            "from": roles,
            "value": st.text(max_size=10),
        },
    ),
    max_size=5,
)
rows = st.dictionaries(keys, json_values | turns | st.text(max_size=30), max_size=6)

# Lines: valid rows, broken JSON, random bytes (bad UTF-8 included), blank lines.
lines = st.one_of(
    rows.map(lambda r: json.dumps(r).encode()),
    rows.map(lambda r: json.dumps(r).encode()[: max(1, len(json.dumps(r)) // 2)]),
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" ")),
    st.just(b""),
)
fuzz_settings = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@given(rows, st.sampled_from(["alpaca", "sharegpt", "messages", "prompt_completion", "text"]))
@settings(max_examples=300, deadline=None)
def test_to_messages_either_converts_or_names_a_known_problem(row, fmt):
    mapping = {
        "alpaca": {"instruction": "instruction", "output": "output"},
        "sharegpt": {"conversations": "conversations"},
        "messages": {"messages": "messages"},
        "prompt_completion": {"prompt": "prompt", "completion": "completion"},
        "text": {"text": "text"},
    }[fmt]
    try:
        messages = to_messages(row, fmt, mapping)
    except RowProblem as problem:
        assert problem.kind in PROBLEM_KINDS
        return
    assert all(
        isinstance(m["content"], str) and m["role"] in ("system", "user", "assistant", "text")
        for m in messages
    )


@given(st.lists(rows, max_size=8))
def test_detection_never_crashes(sample):
    found = detect_format(sample)
    assert found is None or 0 < found.confidence <= 1


def _inspect_bytes(data: bytes, suffix: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"d{suffix}"
        path.write_bytes(data)
        try:
            report = inspect(path)
        except UserError as error:  # unreadable: one sentence, never a traceback
            assert str(error).strip() and "\n" not in str(error)
            return None
        assert report.rows >= report.usable_rows >= 0
        assert sum(report.problem_counts.values()) >= len(report.problems)
        json.dumps(report.to_json())
        try:
            for text in training_texts(path, template="chatml", format=report.format, mapping=report.columns):
                assert text.text.startswith(text.prompt)
        except BadRowError as error:
            assert error.kind in PROBLEM_KINDS
        return report


@given(st.lists(lines, min_size=1, max_size=12))
@fuzz_settings
def test_jsonl_files_of_generated_lines_never_crash(content):
    data = b"\n".join(content)
    report = _inspect_bytes(data, ".jsonl")
    if report is not None:
        assert report.rows == sum(1 for line in data.split(b"\n") if line.strip())


@given(st.lists(lines, min_size=1, max_size=8), st.integers(min_value=1, max_value=64))
@fuzz_settings
def test_json_arrays_of_generated_elements_never_crash(content, chunk):
    old = readers_module.CHUNK
    readers_module.CHUNK = chunk
    try:
        _inspect_bytes(b"[" + b",\n".join(content) + b"]", ".json")
        _inspect_bytes(b"[" + b",".join(content), ".json")  # never closed
    finally:
        readers_module.CHUNK = old


@given(st.lists(rows, max_size=6), st.integers(min_value=1, max_value=40))
@settings(max_examples=80, deadline=None)
def test_json_array_reader_yields_exactly_the_elements(elements, chunk):
    old = readers_module.CHUNK
    readers_module.CHUNK = chunk
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "d.json"
            path.write_text(json.dumps(elements, indent=1 if chunk % 2 else None))
            if not elements:
                return
            assert [r.value for r in iter_rows(open_source(path))] == elements
    finally:
        readers_module.CHUNK = old


@given(st.binary(max_size=300))
@fuzz_settings
def test_arbitrary_bytes_as_any_kind_of_file_never_crash(data):
    for suffix in (".jsonl", ".json", ".csv", ".parquet", ".bin"):
        _inspect_bytes(data, suffix)


@given(st.lists(st.sampled_from([b"a", b"{}", b"", b"\r", b" ", b"x\r"]), max_size=30), st.booleans())
@settings(max_examples=200, deadline=None)
def test_count_lines_matches_a_naive_count(parts, trailing_newline):
    data = b"\n".join(parts) + (b"\n" if trailing_newline else b"")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.jsonl"
        path.write_bytes(data)
        assert count_lines(path) == sum(1 for line in data.split(b"\n") if line not in (b"", b"\r"))


def test_count_lines_across_blocks_and_released_pages(tmp_path, monkeypatch):
    from ftui.core.data import fast

    monkeypatch.setattr(fast, "COUNT_BLOCK", 4096)
    monkeypatch.setattr(fast, "RELEASE_EVERY", 16384)  # madvise(DONTNEED) many times over the file
    import random

    rnd = random.Random(7)
    parts = [rnd.choice([b"", b"\r", b'{"text": "x"}', b"y" * rnd.randint(1, 9000)]) for _ in range(400)]
    data = b"\n".join(parts)
    path = tmp_path / "d.jsonl"
    path.write_bytes(data)
    assert count_lines(path) == sum(1 for line in data.split(b"\n") if line not in (b"", b"\r"))
