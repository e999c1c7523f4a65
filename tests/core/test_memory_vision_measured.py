"""The vision estimator against peaks measured on an H200 (benchmarks/vram/results_vision.json), offline.

The text estimator's standard (issue 3), for vision (issue 14): median absolute error within 10% over the
table, and never more than 10% below a measured peak. The table comes from
benchmarks/vram/measure_vision.py run on the H200, then `analyze_vision.py build`; without it these tests
skip with that reason. The 2026-11-30 run measured Qwen2.5-VL-3B and Gemma-3-4B; its device budget ran out
before Qwen2.5-VL-7B and Llama-3.2-11B-Vision (BENCHMARKS.md, vision estimator), which the issue also asks
for: that test is a strict xfail, so it fails (XPASS) the day they are in the table, to be made a plain test.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest

VRAM = Path(__file__).resolve().parents[2] / "benchmarks" / "vram"
RESULTS = VRAM / "results_vision.json"
pytestmark = pytest.mark.skipif(
    not RESULTS.exists(),
    reason="no H200 vision measurements yet: run benchmarks/vram/measure_vision.py on the H200, then analyze_vision.py build",
)


def errors() -> list[tuple[dict, float]]:
    sys.path.insert(0, str(VRAM))
    import analyze_vision

    return analyze_vision.relative_errors(json.loads(RESULTS.read_text()))


def test_the_table_has_two_families_both_methods_and_sane_peaks():
    rows = json.loads(RESULTS.read_text())["rows"]
    assert {row["arch"] for row in rows} >= {"Qwen/Qwen2.5-VL-3B-Instruct", "google/gemma-3-4b-it"}
    assert {row["method"] for row in rows} >= {"qlora", "lora"}
    assert all(row["nvml_peak_gib"] > row["reserved_gib"] >= row["allocated_gib"] > 0 for row in rows)


@pytest.mark.xfail(
    strict=True,
    reason="2026-11-30: the H200 budget ran out before Qwen2.5-VL-7B and Llama-3.2-11B-Vision were measured",
)
def test_the_table_covers_what_the_issue_asks():
    archs = {row["arch"] for row in json.loads(RESULTS.read_text())["rows"]}
    assert archs >= {"Qwen/Qwen2.5-VL-3B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct", "google/gemma-3-4b-it",
                     "meta-llama/Llama-3.2-11B-Vision-Instruct"}  # fmt: skip


def test_median_absolute_error_is_within_10_percent():
    median = statistics.median(abs(error) for _, error in errors())
    assert median <= 0.10, f"median |error| {median:.1%}"


def test_never_more_than_10_percent_below_a_measured_peak():
    under = [
        (row["arch"], row["method"], row["batch"], row["seq"], f"{e:+.1%}")
        for row, e in errors()
        if e < -0.10
    ]
    assert not under, under
