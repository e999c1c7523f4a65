#!/usr/bin/env bash
# Issue 14 on the H200: the vision memory measurements, and vision QLoRA and LoRA through `ftui train`
# (random-weight Qwen2.5-VL-3B of the real dims) with their peaks against the estimate.
#
#   bash benchmarks/training/vision_gpu.sh measure   # ~6 min (never more than 7: --budget-s 330)
#       VISION_PLAN=h200-rest VISION_BUDGET_S=300 ...  # another plan of measure_vision.py, another budget
#   bash benchmarks/training/vision_gpu.sh train     # ~4 min (a 3B build, two loads, 6 steps each)
#   bash benchmarks/training/vision_gpu.sh           # both, ~10 min: over the device tool's 10-minute
#                                                    # limit for one command, so run the two parts apart
#
# $OUT is where the results go (the device tool's folder). Needs the repo's venv with CUDA torch and a
# torchvision built for it (Qwen2-VL's processor imports it; the lock's torch 2.13.0 + torchvision 0.28.0
# are a matched pair), unsloth 2026.10.9, nvidia-ml-py, and ~25 GB free in /dev/shm (the 11B model's bf16
# weights). Writes:
#   $OUT/vram-vision.jsonl        raw measurements: copy to benchmarks/vram/raw/h200-vision-DATE.jsonl, then
#                                 `python benchmarks/vram/analyze_vision.py build`, `... compare`, `... calibrate`
#   $OUT/vision-gpu-qlora.json    measured peak, estimate and error of the `ftui train` runs
#   $OUT/vision-gpu-lora.json
#   $OUT/vision-gpu-tests.txt     the pytest output
set -u
OUT=${OUT:-/tmp/ftui-vision-gpu}
PART=${1:-all}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if [ "$PART" = measure ] || [ "$PART" = all ]; then
    python benchmarks/vram/measure_vision.py --plan "${VISION_PLAN:-h200}" --budget-s "${VISION_BUDGET_S:-330}" \
        --out "$OUT/vram-vision.jsonl" 2>&1 | tail -40
fi
if [ "$PART" = train ] || [ "$PART" = all ]; then
    OUT=$OUT python -m pytest -p no:cacheprovider -m gpu -s tests/e2e/test_train_vision_gpu.py 2>&1 \
        | tee "$OUT/vision-gpu-tests.txt" | tail -20
fi
