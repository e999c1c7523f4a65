"""Turn the raw H200 measurements into the results table, and compare ftui's estimator with its peers.

  python benchmarks/vram/analyze.py build      raw/*.jsonl -> results.json (the table tests check)
  python benchmarks/vram/analyze.py compare    markdown: ftui vs Unsloth's docs table vs accelerate, per config
  python benchmarks/vram/analyze.py calibrate  refit the estimator's coefficients; leave-one-architecture-out
  python benchmarks/vram/analyze.py calibrate-time
                                               refit the time model (ftui.core.speed.TimeConstants) on every
                                               configuration, and predict each architecture from a fit on the
                                               others (leave-one-architecture-out): the table BENCHMARKS.md shows

New measurements are dropped into raw/ as JSON lines (measure.py's output) and taken in by `build`; the
files are read in name order, each with its own leak correction (each file is one process).

Why a correction at all: measure.py loads ten models one after another in one process (a process start
costs 40 s of device time), and on the GPU one vocab x hidden matrix of each loaded model (embedding or
head, the same size; what holds it was not found) stays allocated after the model is deleted, so every
load starts with the earlier models' matrices still allocated. A user's training process loads one
model. `build` subtracts what was allocated right after a load beyond the model's own weights (the leak),
from the peaks of that load's configurations. Two checks that this is sound: (1) on the two loads that
started in a clean process, the weights the estimator computes match torch's allocated memory to 0.03 GiB;
(2) each load's leak grows over the previous one's by that previous model's embedding matrix (columns
leak_increment_gib and previous_embedding_gib), so no error in one model's weights hides in the leak.

accelerate's numbers come from the installed accelerate's own `estimate-memory` code (gather_data), run on
a meta-device model built from each config offline; for QLoRA its int4 row, for LoRA its float16 row.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from ftui.core.dims import ModelDims, dims_from_hf_config  # noqa: E402
from ftui.core.memory import GIB, estimate_peak_vram, parameter_counts  # noqa: E402
from ftui.core.plan import TrainingSettings  # noqa: E402
from ftui.core.speed import TIME, TimeConstants, estimate_step_time  # noqa: E402

# The first measurement's two calls, then every file dropped in later, in name order.
_FIRST = [HERE / "raw" / "h200-2026-11-28.jsonl", HERE / "raw" / "h200-2026-11-28-extras.jsonl"]
RAW = _FIRST + sorted(
    path
    for path in (HERE / "raw").glob("*.jsonl")
    if path not in _FIRST and not path.name.startswith("h200-vision-")  # analyze_vision.py's
)
RESULTS = HERE / "results.json"
# The two loads that began in a fresh process: allocated after load minus the computed weights there.
FRESH_LOAD_RESIDUAL_GIB = 0.031
# The card's memory outside this process's PyTorch allocator (NVML peak minus reserved) is its CUDA context
# and kernel images: 0.75-0.85 GiB in each of the 32 configurations of 2026-11-28 and in the first one of
# 2026-11-30, growing by at most 0.10 GiB over a file. More than this above a file's first configuration
# means another process was on the card (2026-11-30: the vision GPU test pinned CUDA_VISIBLE_DEVICES=0 and
# trained on the card the measurements were taking): that configuration's peak and time are not its own.
OTHER_PROCESS_GIB = 0.3
# Files measured with the card to themselves, known from how the lease was laid out, not inferred: the "rest"
# lease of 2026-11-30 (benchmarks/h200_session.sh start rest) ran these two jobs one after the other on GPU 0,
# every other job of the lease pinned to GPU 1 or ended before they began. Their configurations are not
# screened by the rule above: Gemma 3 1B at 4 x 4096 has 0.41 GiB more outside the allocator than the
# file's first configuration (its 262,144-wide logits' kernels and workspaces), with nothing else on the card.
# The "third" lease's h200-generic ran alone on GPU 1 after the two-GPU job had ended (the other chain pinned
# to GPU 0); its Gemma 3 rows show the same 0.33-0.41 GiB, after a first configuration of another model.
# The fourth lease's two files (benchmarks/h200_session.sh start moe) ran at the same time, one a GPU, each
# pinned to its card (CUDA_VISIBLE_DEVICES): their cards were their own. The fifth lease's two (host-a,
# host-b) ran one after the other, alone on a one-H200 machine; the sixth's (mistral) too.
CARD_ALONE = (
    "h200-2026-11-30-full-3b.jsonl",
    "h200-2026-11-30-unseen-qlora.jsonl",
    "h200-2026-11-30-generic.jsonl",
    "h200-2026-11-30-moe-a.jsonl",
    "h200-2026-11-30-moe-b.jsonl",
    "h200-2026-11-30-host-a.jsonl",
    "h200-2026-11-30-host-b.jsonl",
    "h200-2026-11-30-mistral.jsonl",
)
# Configurations measured in a state no user's run is in, each with why (file, arch, batch, seq).
NOT_A_USERS_RUN = {
    ("h200-2026-11-30-moe-b.jsonl", "allenai/OLMoE-1B-7B-0924", 4, 1024): "OLMoE loaded a second time in one "
    "process, after Mixtral: its second step took 12 s (compiled again) and its steps were slower than the "
    "first load's at 4 x 4096, four times the tokens; ftui's trainer loads one model a process",
}

# Unsloth's requirement table (docs; ../shared/reference/vram.md), GB as printed, by parameter count.
UNSLOTH_DOCS = {3: (3.5, 8), 7: (5, 19), 8: (6, 22), 9: (6.5, 24), 11: (7.5, 29), 14: (8.5, 33), 27: (22, 64)}


def architectures() -> dict:
    return json.loads((HERE / "architectures.json").read_text())


def dims_of(arch: str) -> ModelDims:
    return dims_from_hf_config(architectures()[arch]["config"])


def settings_of(row: dict) -> TrainingSettings:
    return TrainingSettings(
        method=row["method"],
        batch=row["batch"],
        seq=row["seq"],
        rank=row.get("rank", 16),
        gradient_checkpointing=row["gradient_checkpointing"],
        optimizer=row["optimizer"],
        grad_accum=1,
    )


def own_weights_gib(arch: str, method: str, checkpointing: str) -> float:
    """What the loaded model itself should hold after load: weights and adapters (the estimator's terms)."""
    estimate = estimate_peak_vram(
        dims_of(arch), TrainingSettings(method=method, gradient_checkpointing=checkpointing)
    )
    return estimate.breakdown["weights"] + estimate.breakdown["lora"]


def build() -> dict:
    rows, meta, excluded = [], {}, []
    for path in RAW:
        leak, previous, own_outside = 0.0, None, None
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["kind"] == "meta":
                meta.setdefault("runs", []).append(
                    {k: v for k, v in record.items() if k != "kind"} | {"file": path.name}
                )
            elif record["kind"] == "load":
                own = own_weights_gib(record["arch"], record["method"], record["gradient_checkpointing"])
                if "allocated_before_load_gib" in record:  # measured before the load: nothing inferred
                    new_leak = record["allocated_before_load_gib"]
                else:
                    new_leak = max(0.0, record["allocated_after_load_gib"] - own - FRESH_LOAD_RESIDUAL_GIB)
                increment = new_leak - leak
                previous_embedding = (
                    parameter_counts(dims_of(previous)).embed * 2 / GIB if previous is not None else 0.0
                )
                leak, previous = new_leak, record["arch"]
                load = {
                    "leak_gib": round(leak, 3),
                    "leak_increment_gib": round(increment, 3),
                    "previous_embedding_gib": round(previous_embedding, 3),
                    "weights_computed_gib": round(own, 3),
                    "allocated_after_load_gib": record["allocated_after_load_gib"],
                }
            elif record["kind"] == "config" and "error" not in record and "oom" not in record:
                why = NOT_A_USERS_RUN.get((path.name, record["arch"], record["batch"], record["seq"]))
                if why:
                    excluded.append(
                        {"file": path.name, "arch": record["arch"], "method": record["method"],
                         "batch": record["batch"], "seq": record["seq"],
                         "seconds_per_step": record["seconds_per_step"], "why": why}
                    )  # fmt: skip
                    continue
                outside = record["nvml_peak_gib"] - record["reserved_gib"]
                own_outside = outside if own_outside is None else own_outside
                if outside - own_outside > OTHER_PROCESS_GIB and path.name not in CARD_ALONE:
                    excluded.append(
                        {
                            "file": path.name,
                            "arch": record["arch"],
                            "method": record["method"],
                            "batch": record["batch"],
                            "seq": record["seq"],
                            "nvml_peak_gib": record["nvml_peak_gib"],
                            "reserved_gib": record["reserved_gib"],
                            "seconds_per_step": record["seconds_per_step"],
                            "why": f"{outside - own_outside:.2f} GiB outside this process's allocator above "
                            f"its first configuration's {own_outside:.2f}: another process was on the card",
                        }
                    )
                    continue
                rows.append(
                    {
                        "arch": record["arch"],
                        "method": record["method"],
                        "gradient_checkpointing": record["gradient_checkpointing"],
                        "optimizer": record["optimizer"],
                        "rank": record["rank"],
                        "batch": record["batch"],
                        "seq": record["seq"],
                        "tokens": record["tokens"],
                        # a fresh process's peaks: what a user's run holds (see the module docstring)
                        "nvml_peak_gib": round(record["nvml_peak_gib"] - leak, 3),
                        "reserved_gib": round(record["reserved_gib"] - leak, 3),
                        "allocated_gib": round(record["allocated_gib"] - leak, 3),
                        "seconds_per_step": record["seconds_per_step"],
                        "step_seconds": record["step_seconds"],
                        **(
                            {"syncs_per_step": record["syncs_per_step"]} if "syncs_per_step" in record else {}
                        ),
                        "raw": {
                            "nvml_peak_gib": record["nvml_peak_gib"],
                            "reserved_gib": record["reserved_gib"],
                            "allocated_gib": record["allocated_gib"],
                        },
                        "load": load,
                        "nvml_samples": record["nvml_samples"],
                    }
                )
    meta["method"] = (
        "NVML peak of the card (a thread sampling every 10 ms) minus its usage before the process touched CUDA; "
        "torch max_memory_reserved/allocated; 2 warm-up and 3 timed steps (10 in the files of the fourth to "
        "sixth leases of 2026-11-30), median. Random bf16 weights with the "
        "real dims, rows filled to the maximum length, Unsloth FastLanguageModel + TRL SFTTrainer, r=16 on all "
        "linear layers. Peaks corrected for the embeddings earlier loads left allocated (analyze.py)."
    )
    table = {"meta": meta, "rows": rows, "excluded": excluded}
    for row in excluded:
        print(f"excluded {row['arch']} {row['method']} {row['batch']} x {row['seq']}: {row['why']}")
    RESULTS.write_text(json.dumps(table, indent=1) + "\n")
    return table


def load_results() -> dict:
    return json.loads(RESULTS.read_text())


def unsloth_docs_gib(arch: str, method: str) -> float | None:
    """The docs' row for the model's nominal size (the "7B" in Qwen2.5-7B); None where it has none (1B)."""
    nominal = re.search(r"(\d+(?:\.\d+)?)B", arch.split("/")[-1])
    size = round(float(nominal.group(1))) if nominal else None
    if size not in UNSLOTH_DOCS:
        return None
    return UNSLOTH_DOCS[size][0 if method == "qlora" else 1]


def accelerate_gib(arch: str, method: str) -> float | None:
    """accelerate estimate-memory's Total Size for the dtype the method loads (int4 / float16)."""
    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()  # this machine's torchvision does not load beside CPU torch
    try:
        import torch
        from accelerate import init_empty_weights
        from accelerate.commands import estimate
        from transformers import AutoConfig, AutoModel
    except ImportError:
        return None
    config = dict(architectures()[arch]["config"])
    config = AutoConfig.for_model(config.pop("model_type"), **config)

    # what accelerate's create_empty_model builds, from a local config instead of the Hub
    def empty_model(*args, **kwargs):
        with init_empty_weights():
            return AutoModel.from_config(config, torch_dtype=torch.float32)

    original = estimate.create_empty_model
    estimate.create_empty_model = empty_model
    try:
        dtype = "int4" if method == "qlora" else "float16"
        args = argparse.Namespace(
            model_name=arch, library_name="transformers", trust_remote_code=False, dtypes=[dtype]
        )
        data = estimate.gather_data(args)
    finally:
        estimate.create_empty_model = original
    return data[0][2] / GIB


def errors(table: dict) -> list[dict]:
    out = []
    cache: dict[tuple[str, str], float | None] = {}
    for row in table["rows"]:
        dims = dims_of(row["arch"])
        estimate = estimate_peak_vram(dims, settings_of(row))
        step = estimate_step_time(dims, settings_of(row), "H200")
        key = (row["arch"], row["method"])
        if key not in cache:
            cache[key] = accelerate_gib(*key)
        measured = row["nvml_peak_gib"]
        docs = unsloth_docs_gib(*key)
        out.append(
            {
                **row,
                "ftui_gib": estimate.total_gib,
                "ftui_error": estimate.total_gib / measured - 1,
                "unsloth_docs_gib": docs,
                "unsloth_docs_error": docs / measured - 1 if docs else None,
                "accelerate_gib": cache[key],
                "accelerate_error": cache[key] / measured - 1 if cache[key] else None,
                "ftui_seconds": step.seconds_per_step,
                "time_error": step.seconds_per_step / row["seconds_per_step"] - 1,
            }
        )
    return out


def summary(values: list[float | None]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "—"
    return (
        f"median |err| {statistics.median(abs(v) for v in present) * 100:.1f}%, "
        f"worst under {min(present) * 100:+.1f}%, worst over {max(present) * 100:+.1f}% (n={len(present)})"
    )


def compare() -> None:
    rows = errors(load_results())
    pct = lambda v: "—" if v is None else f"{v * 100:+.0f}%"  # noqa: E731
    print(
        "| model | method | ckpt | batch x seq | measured GiB | ftui | Unsloth docs | accelerate | s/step measured | ftui s/step |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        docs = (
            "—"
            if r["unsloth_docs_gib"] is None
            else f"{r['unsloth_docs_gib']:.1f} ({pct(r['unsloth_docs_error'])})"
        )
        acc = (
            "—"
            if r["accelerate_gib"] is None
            else f"{r['accelerate_gib']:.1f} ({pct(r['accelerate_error'])})"
        )
        opt = "" if r["optimizer"] == "adamw_8bit" else f", {r['optimizer']}"
        print(
            f"| {r['arch'].split('/')[1]} | {r['method']}{opt} | {r['gradient_checkpointing']} | {r['batch']} x {r['seq']} "
            f"| {r['nvml_peak_gib']:.2f} | {r['ftui_gib']:.2f} ({pct(r['ftui_error'])}) | {docs} | {acc} "
            f"| {r['seconds_per_step']:.3f} | {r['ftui_seconds']:.3f} ({pct(r['time_error'])}) |"
        )
    print()
    print("ftui memory:       ", summary([r["ftui_error"] for r in rows]))
    print("Unsloth docs:      ", summary([r["unsloth_docs_error"] for r in rows]))
    print("accelerate:        ", summary([r["accelerate_error"] for r in rows]))
    print("ftui time:         ", summary([r["time_error"] for r in rows]))


def calibrate() -> None:
    """Least squares for the activation coefficients, and how well each architecture is predicted by a fit
    on the other four (leave-one-architecture-out): the honest error on a model that was not measured."""
    import numpy as np

    from ftui.core import memory

    table = load_results()
    rows = [r for r in table["rows"] if r["gradient_checkpointing"] == "unsloth"]

    def features(row):
        dims, settings = dims_of(row["arch"]), settings_of(row)
        estimate = estimate_peak_vram(dims, settings)
        known = estimate.total_gib - estimate.breakdown["activations"] - estimate.breakdown["cuda_context"]
        tokens = row["tokens"]
        largest = dims.hidden * dims.intermediate * 2 * (row["method"] == "qlora")
        return [1.0, tokens * dims.hidden / GIB, tokens * dims.intermediate / GIB, largest / GIB], known

    x = np.array([features(r)[0] for r in rows])
    known = np.array([features(r)[1] for r in rows])
    y = np.array([r["nvml_peak_gib"] for r in rows]) - known
    coef = np.linalg.lstsq(x, y, rcond=None)[0]
    print(
        f"context+workspace {coef[0]:.3f} GiB, bytes/token/hidden {coef[1]:.2f}, bytes/token/intermediate "
        f"{coef[2]:.2f}, dequantized matrices {coef[3]:.2f}"
    )
    print(
        f"in ftui/core/memory.py: {memory.CUDA_CONTEXT_GIB}, {memory.OFFLOADED_BYTES_PER_TOKEN_HIDDEN}, "
        f"{memory.OFFLOADED_BYTES_PER_TOKEN_INTERMEDIATE}, {memory.DEQUANTIZED_MATRICES}"
    )
    archs = sorted({r["arch"] for r in rows})
    held_out = []
    for arch in archs:
        train = [i for i, r in enumerate(rows) if r["arch"] != arch]
        test = [i for i, r in enumerate(rows) if r["arch"] == arch]
        c = np.linalg.lstsq(x[train], y[train], rcond=None)[0]
        for i in test:
            predicted = known[i] + x[i] @ c
            held_out.append(predicted / rows[i]["nvml_peak_gib"] - 1)
    print("leave-one-architecture-out memory:", summary(held_out))


# ---------------------------------------------------------------- the time model

# What calibrate-time fits (the rest of TimeConstants stays: the bandwidth is measured, the soft maximum's
# power is a shape). Each is fitted as its logarithm, so every one stays positive.
TIME_FIELDS = (
    "linear_efficiency",
    "attention_efficiency",
    "elementwise_bytes",
    "host_seconds_per_layer",
    "host_seconds_per_layer_qlora",
    "host_seconds_per_layer_compiled",
    "host_seconds_per_micro_step",
)


def timed_rows() -> list[dict]:
    """The measurements the time model is judged on: every configuration with a time."""
    return [r for r in load_results()["rows"] if r.get("seconds_per_step")]


def predicted_seconds(row: dict, constants: TimeConstants = TIME) -> float:
    step = estimate_step_time(dims_of(row["arch"]), settings_of(row), "H200", constants=constants)
    return step.seconds_per_step


def fit_time(
    rows: list[dict],
    start: TimeConstants = TIME,
    fields: tuple[str, ...] = TIME_FIELDS,
    predict: Callable[[dict, TimeConstants], float] | None = None,  # analyze_vision.py passes its own
):
    """Least squares on log(predicted / measured) over `rows` (Levenberg-Marquardt, numeric Jacobian):
    relative errors weigh a 0.2 s step as much as a 2 s one, as the 25% target does."""
    import dataclasses

    import numpy as np

    predicted_seconds_ = predict or predicted_seconds

    measured = np.log([r["seconds_per_step"] for r in rows])
    theta = np.log([getattr(start, f) for f in fields])

    def residuals(values):
        constants = dataclasses.replace(start, **dict(zip(fields, np.exp(values), strict=True)))
        return np.log([predicted_seconds_(r, constants) for r in rows]) - measured

    damping = 1e-3
    current = residuals(theta)
    for _ in range(60):
        jacobian = np.empty((len(rows), len(fields)))
        for k in range(len(fields)):
            shifted = theta.copy()
            shifted[k] += 1e-4
            jacobian[:, k] = (residuals(shifted) - current) / 1e-4
        normal = jacobian.T @ jacobian
        step = np.linalg.solve(normal + damping * np.diag(np.diag(normal) + 1e-9), -jacobian.T @ current)
        trial = residuals(theta + step)
        if trial @ trial < current @ current:
            theta, current, damping = theta + step, trial, damping / 3
            if np.abs(step).max() < 1e-6:
                break
        else:
            damping *= 4
    return dataclasses.replace(start, **dict(zip(fields, np.exp(theta), strict=True)))


def calibrate_time(markdown: bool = True) -> dict:
    """The time model on every measured configuration: as shipped, refitted on all, and each architecture
    predicted by a fit on the others (the honest error on a model that was not measured)."""
    rows = timed_rows()
    archs = sorted({r["arch"] for r in rows})
    fitted = fit_time(rows)
    held_out: dict[int, float] = {}
    for arch in archs:
        others = [r for r in rows if r["arch"] != arch]
        constants = fit_time(others, start=fitted)
        for i, r in enumerate(rows):
            if r["arch"] == arch:
                held_out[i] = predicted_seconds(r, constants)
    shipped = [predicted_seconds(r) for r in rows]
    refit = [predicted_seconds(r, fitted) for r in rows]
    out = {
        "fitted": {f: getattr(fitted, f) for f in TIME_FIELDS},
        "shipped": {f: getattr(TIME, f) for f in TIME_FIELDS},
        "rows": [],
    }
    for i, r in enumerate(rows):
        out["rows"].append(
            {
                "arch": r["arch"],
                "method": r["method"],
                "gradient_checkpointing": r["gradient_checkpointing"],
                "batch": r["batch"],
                "seq": r["seq"],
                "measured": r["seconds_per_step"],
                "shipped": shipped[i],
                "refit": refit[i],
                "held_out": held_out[i],
            }
        )
    out["configurations"] = by_configuration(out["rows"])
    if markdown:
        pct = lambda a, b: f"{(a / b - 1) * 100:+.0f}%"  # noqa: E731
        print("Fitted on every configuration (paste into ftui/core/speed.py TimeConstants):")
        for f in TIME_FIELDS:
            print(f"    {f} = {getattr(fitted, f):.6g}  (shipped {getattr(TIME, f):.6g})")
        print()
        print(
            "| model | method | batch x seq | measured s/step | ftui (shipped) | fit on all | "
            "architecture held out |"
        )
        print("|---|---|---|---|---|---|---|")
        for row in out["rows"]:
            method = row["method"] + (
                ""
                if row["gradient_checkpointing"] == "unsloth"
                else f", {row['gradient_checkpointing']} ckpt"
            )
            m = row["measured"]
            print(
                f"| {row['arch'].split('/')[1]} | {method} | {row['batch']} x {row['seq']} | {m:.3f} "
                f"| {row['shipped']:.3f} ({pct(row['shipped'], m)}) | {row['refit']:.3f} ({pct(row['refit'], m)}) "
                f"| {row['held_out']:.3f} ({pct(row['held_out'], m)}) |"
            )
        print()
        for key in ("shipped", "refit", "held_out"):
            errors = [row[key] / row["measured"] - 1 for row in out["rows"]]
            within = sum(abs(e) <= 0.25 for e in errors)
            print(f"{key:9s} {summary(errors)}; {within} of {len(errors)} measurements within 25%")
        print()
        print(
            "Each configuration against the median of its measurements (several leases: their hosts differ):"
        )
        print()
        print(
            "| model | method | batch x seq | measured s/step (leases) | ftui (shipped) | architecture held out |"
        )
        print("|---|---|---|---|---|---|")
        for config in out["configurations"]:
            m = config["measured"]
            spread = " / ".join(f"{x:.3f}" for x in config["measurements"])
            ckpt = config["gradient_checkpointing"]
            method = config["method"] + ("" if ckpt == "unsloth" else f", {ckpt} ckpt")
            print(
                f"| {config['arch'].split('/')[1]} | {method} | {config['batch']} x {config['seq']} "
                f"| {m:.3f} ({spread}) | {config['shipped']:.3f} ({pct(config['shipped'], m)}) "
                f"| {config['held_out']:.3f} ({pct(config['held_out'], m)}) |"
            )
        print()
        for key in ("shipped", "held_out"):
            errors = [config[key] / config["measured"] - 1 for config in out["configurations"]]
            within = sum(abs(e) <= 0.25 for e in errors)
            print(f"{key:9s} {summary(errors)}; {within} of {len(errors)} configurations within 25%")
    return out


def configuration_key(row: dict) -> tuple:
    return (row["arch"], row["method"], row["gradient_checkpointing"], row["batch"], row["seq"])


def by_configuration(rows: list[dict]) -> list[dict]:
    """The measurements grouped by configuration, each group's median: what a configuration is judged on
    (the same configuration measured in several leases differs with the lease's host)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(configuration_key(row), []).append(row)
    out = []
    for (arch, method, checkpointing, batch, seq), members in groups.items():
        out.append(
            {
                "arch": arch, "method": method, "gradient_checkpointing": checkpointing,
                "batch": batch, "seq": seq,
                "measurements": [m["measured"] for m in members],
                "measured": statistics.median(m["measured"] for m in members),
                "shipped": members[0]["shipped"],
                "held_out": members[0]["held_out"],
            }
        )  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("build", "compare", "calibrate", "calibrate-time"))
    what = parser.parse_args().what
    if what == "build":
        table = build()
        print(f"{RESULTS.relative_to(HERE.parents[1])}: {len(table['rows'])} configurations")
        for row in table["rows"]:
            load = row["load"]
            print(
                f"{row['arch']:26s} {row['method']:5s} leak {load['leak_gib']:.3f} (+{load['leak_increment_gib']:.3f}, "
                f"previous embedding {load['previous_embedding_gib']:.3f})"
            )
    elif what == "compare":
        compare()
    elif what == "calibrate-time":
        calibrate_time()
    else:
        calibrate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
