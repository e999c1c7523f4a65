"""Each reader on real files: line numbers, streaming across chunk boundaries, and refusals."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ftui.core.data import readers
from ftui.core.data.readers import UnreadableDataError, iter_rows, open_source

ALPACA = [
    {"instruction": f'Question {i} [with {{brackets}} and "quotes"]', "output": f"Answer {i}\\n"}
    for i in range(5)
]


def rows_of(path):
    return list(iter_rows(open_source(path)))


def test_jsonl_lines_skip_blanks_and_keep_numbering(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n\r\n  \n{"a": 2}\n{"a": \n{"a": 3}')
    got = rows_of(path)
    assert [(r.line, r.value, r.problem and r.problem[0]) for r in got] == [
        (1, {"a": 1}, None),
        (4, {"a": 2}, None),
        (5, None, "malformed_json"),
        (6, {"a": 3}, None),
    ]


def test_jsonl_bad_utf8_row_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"a": "ok"}\n{"a": "caf\xe9"}\n{"a": "fine"}\n')
    assert [r.problem and r.problem[0] for r in rows_of(path)] == [None, "not_utf8", None]


@pytest.mark.parametrize("chunk", [3, 7, 64, 1 << 20])
def test_json_array_streams_elements_with_their_lines(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(readers, "CHUNK", chunk)  # force strings and rows to straddle chunk boundaries
    path = tmp_path / "d.json"
    path.write_text(json.dumps(ALPACA, indent=2))
    got = rows_of(path)
    assert [r.value for r in got] == ALPACA
    text = path.read_text().splitlines()
    assert [r.line for r in got] == [1, 2, 3, 4, 5]  # rows are numbered
    for row in got:  # and each knows the line its opening brace is on
        assert text[row.file_line - 1].strip() == "{"


def test_json_array_compact_and_cut_short(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "CHUNK", 5)
    path = tmp_path / "d.json"
    path.write_text('[{"a": "]"}, {"a": "\\"}"}]')
    assert [r.value for r in rows_of(path)] == [{"a": "]"}, {"a": '"}'}]
    path.write_text('[\n{"a": 1},\n{"a": "unfinished')
    got = rows_of(path)
    assert got[0].value == {"a": 1}
    assert got[-1].problem[0] == "malformed_json" and "cut short" in got[-1].problem[1]
    assert (got[-1].line, got[-1].file_line) == (2, 3)


def test_json_that_is_really_jsonl_is_read_as_jsonl(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('{"a": 1}\n{"a": 2}\n')
    source = open_source(path)
    assert source.kind == "jsonl" and [r.value for r in iter_rows(source)] == [{"a": 1}, {"a": 2}]


def test_csv_quoted_newlines_missing_cells_and_bad_bytes(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(
        b'instruction,input,output\n"Two\nlines",,yes\nshort row\ncaf\xe9,x,y\nlast,,"quoted, comma"\n'
    )
    got = rows_of(path)
    assert [r.line for r in got] == [2, 4, 5, 6]
    assert got[0].value == {"instruction": "Two\nlines", "input": "", "output": "yes"}
    assert got[1].value == {"instruction": "short row", "input": None, "output": None}
    assert got[2].problem[0] == "not_utf8"
    assert got[3].value["output"] == "quoted, comma"


def test_tsv(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("prompt\tcompletion\nHi\tHello\n")
    assert [(r.line, r.value) for r in rows_of(path)] == [(2, {"prompt": "Hi", "completion": "Hello"})]


def test_parquet_rows_with_nested_conversations(tmp_path):
    path = tmp_path / "d.parquet"
    rows = [
        {"conversations": [{"from": "human", "value": f"q{i}"}, {"from": "gpt", "value": f"a{i}"}]}
        for i in range(3000)
    ]
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=700)
    got = rows_of(path)
    assert open_source(path).unit == "row"
    assert [r.line for r in got] == list(range(1, 3001)) and got[2999].value == rows[2999]


def test_arrow_stream_file_as_datasets_writes_it(tmp_path):
    path = tmp_path / "data-train.arrow"
    table = pa.Table.from_pylist([{"text": "a"}, {"text": "b"}])
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    assert [r.value for r in rows_of(path)] == [{"text": "a"}, {"text": "b"}]


def test_hub_dataset_from_the_local_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    snapshot = tmp_path / "hub" / "datasets--someone--tiny" / "snapshots" / "abc123" / "data"
    snapshot.mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist([{"prompt": "p", "completion": "c"}] * 4), snapshot / "train-00000.parquet"
    )
    pq.write_table(
        pa.Table.from_pylist([{"prompt": "x", "completion": "y"}]), snapshot / "test-00000.parquet"
    )
    source = open_source("someone/tiny")
    assert (source.origin, source.kind, source.unit) == ("hub", "parquet", "row")
    assert len(list(iter_rows(source))) == 4  # the train split only
    assert source.where(2) == "Row 2 of someone/tiny"


def test_hub_dataset_offline_and_missing_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UnreadableDataError, match="not in the Hugging Face cache"):
        open_source("nobody/nothing")


def test_a_folder_reads_its_train_files(tmp_path):
    (tmp_path / "train.jsonl").write_text('{"text": "a"}\n')
    (tmp_path / "test.jsonl").write_text('{"text": "b"}\n')
    assert [r.value for r in rows_of(tmp_path)] == [{"text": "a"}]


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("empty.jsonl", b"", "is empty"),
        ("blank.jsonl", b"\n \n\t\n", "is empty"),
        ("model.bin", bytes(range(256)) * 4, "binary file"),
        ("utf16.jsonl", '{"text": "hi"}\n'.encode("utf-16"), "UTF-16"),
        ("latin1.jsonl", '{"text": "café"}\n{"text": "naïve"}\n'.encode("latin-1"), "not UTF-8"),
        ("notes.txt", b"just some words\nwith no structure\n", "cannot tell what"),
        ("bad.json", b"hello", "does not start with a JSON object or array"),
    ],
)
def test_files_that_are_not_datasets_are_refused_in_one_sentence(tmp_path, name, content, says):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableDataError, match=says) as caught:
        open_source(path)
    message = str(caught.value)
    assert message.endswith(".") and "\n" not in message


def test_a_damaged_parquet_file_is_refused(tmp_path):
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1" + b"\x00garbage" * 10)
    with pytest.raises(UnreadableDataError, match="not a readable Parquet file"):
        rows_of(path)
