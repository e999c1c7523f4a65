#!/usr/bin/env bash
# Issue 14 on the H200, in one device call: the vision memory measurements, then vision QLoRA and LoRA
# through `ftui train` (random-weight Qwen2.5-VL-3B of the real dims) with their peaks against the estimate.
#
#   bash benchmarks/training/vision_gpu.sh        # $OUT: where the results go (the device tool's folder)
#
# Needs: the repo's venv with CUDA torch and a torchvision built for it (Qwen2-VL's processor imports it),
# unsloth 2026.10.9, nvidia-ml-py; ~25 GB free in /dev/shm (the 11B model's bf16 weights).
# Expected device time: measure_vision.py ~6 min (its --budget-s 330 stops new configurations so it ends
# within 7 min), the two training tests ~3 min (a 3B build, two loads, 6 steps each). Writes:
#   $OUT/vram-vision.jsonl        raw measurements: copy to benchmarks/vram/raw/h200-vision-DATE.jsonl, then
#                                 `python benchmarks/vram/analyze_vision.py build && ... compare && ... calibrate`
#   $OUT/vision-gpu-qlora.json    measured peak, estimate and error of the ftui train runs
#   $OUT/vision-gpu-lora.json
#   $OUT/vision-gpu-tests.txt     the pytest output
set -u
OUT=${OUT:-/tmp/ftui-vision-gpu}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
python benchmarks/vram/measure_vision.py --plan h200 --out "$OUT/vram-vision.jsonl" 2>&1 | tail -40
OUT=$OUT python -m pytest -p no:cacheprovider -m gpu -s tests/e2e/test_train_vision_gpu.py 2>&1 | tee "$OUT/vision-gpu-tests.txt" | tail -20
