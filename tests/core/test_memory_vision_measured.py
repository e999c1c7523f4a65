"""The vision estimator against peaks and steps measured on an H200 (benchmarks/vram/results_vision.json),
offline.

The text estimator's standard (issue 3), for vision (issue 14): median absolute error within 10% over the
table, and never more than 10% below a measured peak; the same for seconds a step (the steady-state median:
measure_vision.py leaves the first step, which compiles, out). The table comes from
benchmarks/vram/measure_vision.py run on the H200, then `analyze_vision.py build`; without it these tests
skip with that reason. Two runs of 2026-11-30 measured the four architectures the issue names: Qwen2.5-VL-3B
and -7B, Gemma-3-4B and Llama-3.2-11B-Vision (BENCHMARKS.md, vision estimator).
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


def analyze_vision():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(VRAM))
    import analyze_vision

    return analyze_vision


def errors() -> list[tuple[dict, float]]:
    return analyze_vision().relative_errors(json.loads(RESULTS.read_text()))


def time_errors(constants=None) -> list[tuple[dict, float]]:  # type: ignore[no-untyped-def]
    from ftui.core.speed import TIME

    return analyze_vision().time_errors(json.loads(RESULTS.read_text()), constants or TIME)


def misses(found: list[tuple[dict, float]]) -> list[str]:
    """What breaks the standard: a median |error| over 10%, or a row more than 10% under."""
    out = [
        f"{row['arch']} {row['method']} {row['batch']} x {row['seq']}: {e:+.1%}"
        for row, e in found
        if e < -0.10
    ]
    median = statistics.median(abs(e) for _, e in found)
    return out + ([f"median |error| {median:.1%}"] if median > 0.10 else [])


def test_the_table_has_two_families_both_methods_and_sane_peaks():
    rows = json.loads(RESULTS.read_text())["rows"]
    assert {row["arch"] for row in rows} >= {"Qwen/Qwen2.5-VL-3B-Instruct", "google/gemma-3-4b-it"}
    assert {row["method"] for row in rows} >= {"qlora", "lora"}
    assert all(row["nvml_peak_gib"] > row["reserved_gib"] >= row["allocated_gib"] > 0 for row in rows)


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


def test_seconds_a_step_meet_the_same_standard():
    assert not misses(time_errors())


def test_the_time_standard_needs_both_vision_terms():
    """The tower's host cost and the vision path's slower GPU work are what brought the time estimate from
    35-61% under to the standard (BENCHMARKS.md, vision estimator): without either it fails again."""
    import dataclasses

    from ftui.core.speed import TIME

    assert misses(time_errors(dataclasses.replace(TIME, vision_gpu_factor=1.0)))
    assert misses(time_errors(dataclasses.replace(TIME, vision_tower_host_scale=0.0)))
