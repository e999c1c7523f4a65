"""inspect(): every problem kind with its line, the counts, tokens and the report's JSON shape."""

from __future__ import annotations

import json

import pytest

from ftui.core.data import PROBLEM_KINDS, inspect
from ftui.core.data import fast as fast_module
from ftui.core.data.readers import UnreadableDataError
from ftui.core.plan import DatasetSummary

GOOD_ALPACA = {"instruction": "Name a colour.", "input": "", "output": "Blue."}


def write_lines(path, rows):
    path.write_bytes(b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows))
    return path


def turn(role, content, key=("role", "content")):
    return {key[0]: role, key[1]: content}


def only(report, kind):
    found = [p for p in report.problems if p.kind == kind]
    assert report.problem_counts.get(kind) == len(found), report.problem_counts
    return found


CASES = {
    "malformed_json": ("alpaca", b'{"instruction": "x", "output": "y"', "the JSON is malformed"),
    "not_utf8": ("alpaca", b'{"instruction": "caf\xe9", "output": "y"}', "not valid UTF-8"),
    "missing_field": ("alpaca", {"instruction": "x"}, "there is no 'output'"),
    "empty_field": ("alpaca", {"instruction": "x", "output": "   "}, "'output' is empty"),
    "wrong_type": ("alpaca", {"instruction": ["x"], "output": "y"}, "'instruction' is a list, not text"),
    "unknown_role": (
        "sharegpt",
        {"conversations": [turn("human", "q", ("from", "value")), turn("robot", "a", ("from", "value"))]},
        "the role 'robot'",
    ),
    "roles_not_alternating": (
        "messages",
        {"messages": [turn("user", "q"), turn("user", "q2"), turn("assistant", "a")]},
        "turn 2 is user where assistant was expected",
    ),
    "no_assistant_turn": (
        "messages",
        {"messages": [turn("system", "s"), turn("user", "q")]},
        "no assistant turn",
    ),
}


def good_row(fmt):
    return {
        "alpaca": GOOD_ALPACA,
        "sharegpt": {
            "conversations": [turn("human", "q", ("from", "value")), turn("gpt", "a", ("from", "value"))]
        },
        "messages": {"messages": [turn("user", "q"), turn("assistant", "a")]},
    }[fmt]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_problem_kind_is_reported_with_its_line(tmp_path, kind):
    fmt, bad, says = CASES[kind]
    rows = [good_row(fmt) | {"n": i} for i in range(4)]
    rows.insert(2, bad)  # line 3
    report = inspect(write_lines(tmp_path / "d.jsonl", rows))
    assert report.format == fmt
    (problem,) = only(report, kind)
    assert problem.line == 3
    assert problem.message.startswith("Line 3 of d.jsonl: ") and says in problem.message
    assert problem.message.endswith(PROBLEM_KINDS[kind] + ".")
    assert (report.rows, report.usable_rows) == (5, 4)


def test_duplicates_name_the_original_line(tmp_path):
    rows = [GOOD_ALPACA, {"instruction": "Other", "output": "x"}, GOOD_ALPACA, b"", GOOD_ALPACA]
    report = inspect(write_lines(tmp_path / "d.jsonl", rows))
    found = only(report, "duplicate")
    assert [(p.line, "repeats line 1 exactly" in p.message) for p in found] == [(3, True), (5, True)]


def test_too_long_uses_the_max_length(tmp_path):
    rows = [GOOD_ALPACA, {"instruction": "word " * 3000, "output": "ok"}]
    path = write_lines(tmp_path / "d.jsonl", rows)
    (problem,) = only(inspect(path, max_length=512), "too_long")
    assert problem.line == 2 and "(estimated)" in problem.message
    assert "too_long" not in inspect(path, max_length=8192).problem_counts


def test_examples_are_capped_but_counts_are_complete(tmp_path):
    rows = [GOOD_ALPACA] + [{"instruction": f"q{i}", "output": ""} for i in range(40)]
    report = inspect(write_lines(tmp_path / "d.jsonl", rows))
    assert report.problem_counts == {"empty_field": 40}
    assert [p.line for p in report.problems] == [2, 3, 4, 5, 6]


def test_parallel_path_equals_the_single_process_path(tmp_path, monkeypatch):
    rows = []
    for i in range(3000):
        if i % 97 == 0:
            rows.append(b'{"instruction": broken')
        elif i % 89 == 0:
            rows.append({"instruction": f"q{i}", "output": ""})
        elif i % 83 == 0:
            rows.append(GOOD_ALPACA)
        else:
            rows.append({"instruction": f"q{i} " * (1 + i % 50), "input": "", "output": f"a{i}"})
    path = write_lines(tmp_path / "d.jsonl", rows)
    single = inspect(path, workers=1).to_json()
    monkeypatch.setattr(fast_module, "PARALLEL_FROM", 0)
    monkeypatch.setattr(fast_module, "CHECK_BLOCK", 4096)  # many blocks per worker
    parallel = inspect(path, workers=2).to_json()
    for report in (single, parallel):
        report.pop("seconds")
    assert parallel == single
    assert single["problem_counts"] == {"malformed_json": 31, "empty_field": 33, "duplicate": 35}
    assert fast_module.count_lines(path) == single["rows"] == 3000


def test_the_same_file_in_every_layout_gives_the_same_report(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        GOOD_ALPACA,
        {"instruction": "Sum 2 and 2", "input": "", "output": "4"},
        GOOD_ALPACA,
        {"instruction": "", "input": "", "output": "x"},
    ]
    write_lines(tmp_path / "d.jsonl", rows)
    (tmp_path / "d.json").write_text(json.dumps(rows, indent=1))
    import csv

    with open(tmp_path / "d.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["instruction", "input", "output"])
        writer.writeheader()
        writer.writerows(rows)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    for name in ("d.jsonl", "d.json", "d.csv", "d.parquet"):
        report = inspect(tmp_path / name)
        assert (report.rows, report.usable_rows, report.format) == (4, 3, "alpaca"), name
        assert report.problem_counts == {"empty_field": 1, "duplicate": 1}, name


def test_format_detection_and_override(tmp_path):
    path = write_lines(tmp_path / "d.jsonl", [{"question": "q", "answer": "a", "text": "q a"}] * 3)
    report = inspect(path)
    assert report.format == "prompt_completion" and report.columns == {
        "prompt": "question",
        "completion": "answer",
    }
    assert report.confidence < 1.0  # synonyms, not the format's own names
    forced = inspect(path, format="text")
    assert forced.format == "text" and forced.columns == {"text": "text"} and forced.confidence == 1.0
    mapped = inspect(path, format="alpaca", mapping={"instruction": "question", "output": "answer"})
    assert mapped.columns["instruction"] == "question" and mapped.usable_rows == 3


def test_unknown_format_is_unreadable_with_the_columns_named(tmp_path):
    path = write_lines(tmp_path / "d.jsonl", [{"foo": 1, "bar": "x"}])
    with pytest.raises(
        UnreadableDataError, match=r"does not recognise the format of d.jsonl \(columns: foo, bar\)"
    ):
        inspect(path)


def test_all_rows_malformed_is_unreadable(tmp_path):
    path = write_lines(tmp_path / "d.jsonl", [b"{nope", b"{still nope"])
    with pytest.raises(UnreadableDataError):
        inspect(path)


def test_report_json_shape_and_summary(tmp_path):
    path = write_lines(
        tmp_path / "d.jsonl", [GOOD_ALPACA, {"instruction": "Q?", "output": "A much longer answer " * 5}]
    )
    report = inspect(path)
    data = report.to_json()
    assert {"rows", "format", "columns", "problems", "tokens", "advice"} <= set(data)
    assert set(data["tokens"]) >= {
        "counted_with",
        "p50",
        "p95",
        "max",
        "total",
        "max_length",
        "over_max_length",
    }
    assert data["tokens"]["counted_with"] == "estimate"
    json.dumps(data)  # serialisable as it is
    summary = report.summary()
    assert isinstance(summary, DatasetSummary)
    assert (summary.rows, summary.format, summary.total_tokens) == (2, "alpaca", data["tokens"]["total"])
    assert data["advice"]["max_length"] == 256 and data["advice"]["rows_for_training"] == 2


def test_conversations_held_as_json_text_in_a_csv(tmp_path):
    import csv

    conversation = [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]
    with open(tmp_path / "d.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "conversations"])
        writer.writerow([1, json.dumps(conversation)])
        writer.writerow([2, "[{not json"])
    report = inspect(tmp_path / "d.csv")
    assert (report.format, report.usable_rows) == ("sharegpt", 1)
    assert [p.kind for p in report.problems] == ["malformed_json"] and report.problems[0].line == 3


def test_trl_conversational_prompt_completion(tmp_path):
    row = {
        "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "completion": [{"role": "assistant", "content": "Hello"}],
    }
    path = write_lines(
        tmp_path / "d.jsonl", [row, {"prompt": [{"role": "user", "content": "x"}], "completion": []}]
    )
    report = inspect(path)
    assert (report.format, report.usable_rows) == ("prompt_completion", 1)
    assert report.problem_counts == {"empty_field": 1}
