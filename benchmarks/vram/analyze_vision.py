"""Turn the H200 vision measurements into the table the estimator is tested against, and fit its constants.

  python benchmarks/vram/analyze_vision.py build      raw/h200-vision-*.jsonl -> results_vision.json
  python benchmarks/vram/analyze_vision.py compare    markdown: ftui's estimate against each measured peak
  python benchmarks/vram/analyze_vision.py calibrate  least squares for ftui/core/memory_vision.py's constants
  python benchmarks/vram/analyze_vision.py calibrate-time
                                                     the vision part of the time model (ftui/core/speed.py
                                                     TimeConstants.vision_*): fitted on every step, and each
                                                     step predicted by a fit on the others

As analyze.py does for text (read its docstring): all loads share one process in measure_vision.py, so a
load starts with what earlier loads left allocated; `build` subtracts what was allocated right after a load
beyond the model's own weights and adapters as the estimator computes them, from that load's peaks.
Until the raw file exists, every command says so and exits 1; the test of the estimator against the table
(tests/core/test_memory_vision_measured.py) skips with that reason.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from ftui.core.dims import dims_from_hf_config  # noqa: E402
from ftui.core.memory import estimate_peak_vram  # noqa: E402
from ftui.core.memory_vision import VisionLoad  # noqa: E402
from ftui.core.plan import TrainingSettings  # noqa: E402
from ftui.core.speed import TIME, TimeConstants, estimate_step_time  # noqa: E402

RESULTS = HERE / "results_vision.json"
FRESH_LOAD_RESIDUAL_GIB = 0.031  # analyze.py's: allocated after a fresh load minus the computed weights


def raw_files() -> list[Path]:
    return sorted((HERE / "raw").glob("h200-vision-*.jsonl"))


def architectures() -> dict:
    return json.loads((HERE / "vision_architectures.json").read_text())


def dims_of(arch: str):  # type: ignore[no-untyped-def]
    entry = architectures()[arch]
    return dims_from_hf_config({"model_type": entry["model_type"], **entry["config"]}, entry.get("params_b"))


def settings_of(row: dict) -> TrainingSettings:
    return TrainingSettings(
        method=row["method"], batch=row["batch"], seq=row["seq"], rank=row.get("rank", 16),
        gradient_checkpointing=row["gradient_checkpointing"], optimizer=row["optimizer"], grad_accum=1,
        finetune_vision_layers=row["finetune_vision_layers"],
    )  # fmt: skip


def load_of(row: dict) -> VisionLoad:
    return VisionLoad(row["images_per_row"], tuple(row["image_size"]))  # type: ignore[arg-type]


def estimate(row: dict):  # type: ignore[no-untyped-def]
    return estimate_peak_vram(dims_of(row["arch"]), settings_of(row), vision=load_of(row))


def build() -> dict:
    rows, meta = [], {"runs": []}
    for path in raw_files():
        leak = 0.0
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["kind"] == "meta":
                meta["runs"].append({k: v for k, v in record.items() if k != "kind"} | {"file": path.name})
            elif record["kind"] == "load":
                own = estimate_peak_vram(
                    dims_of(record["arch"]),
                    TrainingSettings(
                        method=record["method"], finetune_vision_layers=record["finetune_vision_layers"]
                    ),
                    vision=VisionLoad(),
                )
                computed = own.breakdown["weights"] + own.breakdown["lora"]
                leak = max(0.0, record["allocated_after_load_gib"] - computed - FRESH_LOAD_RESIDUAL_GIB)
            elif record["kind"] == "config" and "error" not in record and "oom" not in record:
                rows.append(
                    {
                        **{k: record[k] for k in ("arch", "method", "finetune_vision_layers", "batch", "seq",
                                                  "image_size", "images_per_row", "rank", "gradient_checkpointing",
                                                  "optimizer", "input_tokens", "seconds_per_step", "step_seconds",
                                                  "nvml_samples")},
                        "nvml_peak_gib": round(record["nvml_peak_gib"] - leak, 3),
                        "reserved_gib": round(record["reserved_gib"] - leak, 3),
                        "allocated_gib": round(record["allocated_gib"] - leak, 3),
                        "leak_gib": round(leak, 3),
                    }
                )  # fmt: skip
    meta["method"] = (
        "measure.py's method for vision: NVML peak minus the card's idle use; FastVisionModel + "
        "UnslothVisionDataCollator + SFTTrainer, r=16, adamw_8bit, bf16, rows filled to the maximum length "
        "with image tokens counted; peaks corrected for what earlier loads left allocated."
    )
    table = {"meta": meta, "rows": rows}
    RESULTS.write_text(json.dumps(table, indent=1) + "\n")
    return table


def relative_errors(table: dict) -> list[tuple[dict, float]]:
    return [(row, estimate(row).total_gib / row["nvml_peak_gib"] - 1) for row in table["rows"]]


def seconds(row: dict, constants: TimeConstants = TIME) -> float:
    """ftui's seconds a step for the row's configuration on an H200 (every row at its maximum length, as the
    measured rows were filled)."""
    step = estimate_step_time(
        dims_of(row["arch"]), settings_of(row), "H200", vision=load_of(row), constants=constants
    )
    assert step is not None  # the H200 has speed figures
    return step.seconds_per_step


def time_errors(table: dict, constants: TimeConstants = TIME) -> list[tuple[dict, float]]:
    """ftui's seconds a step against the measured ones: the steady-state median (measure_vision.py times
    every step and leaves the first, which compiles, out)."""
    return [(row, seconds(row, constants) / row["seconds_per_step"] - 1) for row in table["rows"]]


def summary(errors: list[float]) -> str:
    return (
        f"median |error| {statistics.median(abs(e) for e in errors) * 100:.1f}%, worst under "
        f"{min(errors) * 100:+.1f}%, worst over {max(errors) * 100:+.1f}% (n={len(errors)})"
    )


def compare(table: dict) -> None:
    print(
        "| model | method | vision layers | batch x seq | images | measured GiB | ftui GiB | error | s/step | ftui s/step | error |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    errors, time = [], []
    for (row, error), (_, time_error) in zip(relative_errors(table), time_errors(table), strict=True):
        errors.append(error)
        time.append(time_error)
        size = "x".join(str(v) for v in row["image_size"])
        print(
            f"| {row['arch'].split('/')[1]} | {row['method']} | {'tuned' if row['finetune_vision_layers'] else 'frozen'} "
            f"| {row['batch']} x {row['seq']} | {row['images_per_row']} x {size} | {row['nvml_peak_gib']:.2f} "
            f"| {estimate(row).total_gib:.2f} | {error * 100:+.1f}% | {row['seconds_per_step']:.3f} "
            f"| {seconds(row):.3f} | {time_error * 100:+.1f}% |"
        )
    print()
    print(f"memory: {summary(errors)}")
    print(f"time:   {summary(time)}")


def calibrate(table: dict) -> None:
    """Fit the vision part: measured minus the estimate without its `vision` term, against the patches
    through a tuned tower (per layer and width), through a frozen one, and the features."""
    import numpy as np

    from ftui.core import memory_vision as mv
    from ftui.core.vision import family_for

    x, y = [], []
    for row in table["rows"]:
        est = estimate(row)
        family = family_for(architectures()[row["arch"]]["model_type"])
        patches = row["batch"] * row["images_per_row"] * family.tower_tokens(*row["image_size"])
        w, layers = family.tower.width, family.tower.layers
        tuned = row["finetune_vision_layers"]
        x.append([patches * layers * w * tuned / 2**30, patches * (w if tuned else 0) / 2**30,
                  patches * (0 if tuned else w) / 2**30, patches * w / 2**30])  # fmt: skip
        y.append(row["nvml_peak_gib"] - (est.total_gib - est.breakdown["vision"]))
    coef = np.linalg.lstsq(np.array(x), np.array(y), rcond=None)[0]
    print(f"bytes per patch: kept per layer x width {coef[0]:.2f}, tuned recompute x width {coef[1]:.2f}, "
          f"frozen x width {coef[2]:.2f}, features x width {coef[3]:.2f}")  # fmt: skip
    print(f"now in ftui/core/memory_vision.py: {mv.TUNED_KEPT_PER_LAYER_W}, {mv.RECOMPUTE_W} (+{mv.RECOMPUTE_M} x mlp), "
          f"{mv.FROZEN_W} (+{mv.FROZEN_M} x mlp), {mv.FEATURES_W}")  # fmt: skip


# The vision part of the time model that calibrate-time fits (ftui/core/speed.py TimeConstants); the text
# constants stay as analyze.py calibrate-time fitted them on 33 text steps.
VISION_TIME_FIELDS = ("vision_gpu_factor",)
# Fitted beside it only to show what the four steps say about the tower's host cost per layer (held at the
# text path's: see TimeConstants.vision_tower_host_scale).
VISION_TIME_FIELDS_FREE = ("vision_gpu_factor", "vision_tower_host_scale")


def calibrate_time(table: dict) -> dict:
    """Least squares on log(predicted / measured), as analyze.py fits the text constants: on every step, and
    each step predicted by a fit on the others (leave-one-out; leaving out the Gemma step is the one
    out-of-family test, leaving out a Qwen step keeps the family in the fit). Prints the shipped constants'
    errors too, which the tests hold to the standard."""
    import dataclasses

    from analyze import fit_time

    rows = table["rows"]
    out: dict = {"shipped": {f: getattr(TIME, f) for f in VISION_TIME_FIELDS_FREE}}
    for name, fields in (("fit", VISION_TIME_FIELDS), ("free", VISION_TIME_FIELDS_FREE)):
        fitted = fit_time(rows, start=TIME, fields=fields, predict=seconds)
        held = []
        for i, row in enumerate(rows):
            others = fit_time(rows[:i] + rows[i + 1 :], start=TIME, fields=fields, predict=seconds)
            held.append(seconds(row, others) / row["seconds_per_step"] - 1)
        out[name] = {
            "constants": {f: getattr(fitted, f) for f in fields},
            "in_sample": [seconds(row, fitted) / row["seconds_per_step"] - 1 for row in rows],
            "leave_one_out": held,
        }
    out["shipped_errors"] = [e for _, e in time_errors(table)]
    # The time model before it had a vision part: the tower's FLOPs only, at the text path's rate.
    before = dataclasses.replace(TIME, vision_gpu_factor=1.0, vision_tower_host_scale=0.0)
    out["before_errors"] = [e for _, e in time_errors(table, before)]
    print(
        "| model | method | batch x seq | images | timed steps (s) | measured s/step | before | shipped "
        "| fit on all | step left out |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for i, row in enumerate(rows):
        size = "x".join(str(v) for v in row["image_size"])
        timed = ", ".join(f"{v:.3f}" for v in row.get("step_seconds", [])[1:])  # the first compiles
        print(
            f"| {row['arch'].split('/')[1]} | {row['method']} | {row['batch']} x {row['seq']} "
            f"| {row['images_per_row']} x {size} | {timed} | {row['seconds_per_step']:.3f} "
            f"| {out['before_errors'][i] * 100:+.1f}% | {out['shipped_errors'][i] * 100:+.1f}% "
            f"| {out['fit']['in_sample'][i] * 100:+.1f}% | {out['fit']['leave_one_out'][i] * 100:+.1f}% |"
        )
    print()
    print(f"before (tower FLOPs only): {summary(out['before_errors'])}")
    for what, change in (("without the tower's host cost", {"vision_tower_host_scale": 0.0}),
                         ("without the GPU factor", {"vision_gpu_factor": 1.0})):  # fmt: skip
        found = [e for _, e in time_errors(table, dataclasses.replace(TIME, **change))]
        print(f"{what}: [{', '.join(f'{e * 100:+.1f}%' for e in found)}]")
    print(
        f"shipped ({', '.join(f'{f} {getattr(TIME, f):.4g}' for f in VISION_TIME_FIELDS_FREE)}): {summary(out['shipped_errors'])}"
    )
    for name in ("fit", "free"):
        constants = ", ".join(f"{f} {v:.4g}" for f, v in out[name]["constants"].items())
        print(f"{name} ({constants}):")
        print(f"  in sample      {summary(out[name]['in_sample'])}")
        print(f"  leave one out  {summary(out[name]['leave_one_out'])}  "
              f"[{', '.join(f'{e * 100:+.1f}%' for e in out[name]['leave_one_out'])}]")  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("build", "compare", "calibrate", "calibrate-time"))
    what = parser.parse_args().what
    if what == "build":
        if not raw_files():
            print(
                "No raw measurements yet: run benchmarks/vram/measure_vision.py on the H200 into benchmarks/vram/raw/h200-vision-DATE.jsonl."
            )
            return 1
        table = build()
        print(f"{RESULTS.name}: {len(table['rows'])} configurations")
        return 0
    if not RESULTS.exists():
        print(f"No {RESULTS.name} yet: `analyze_vision.py build` after the H200 run.")
        return 1
    table = json.loads(RESULTS.read_text())
    if what == "compare":
        compare(table)
    elif what == "calibrate-time":
        calibrate_time(table)
    else:
        calibrate(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
