#!/usr/bin/env bash
# Issue 17's loss-curve question on the GPU: does the split of a step's 8 rows (8 x 1 against the notebooks'
# 2 x 4) change the first optimizer step's gradient, with Unsloth's padding-free batches and with padded
# ones? (BENCHMARKS.md, "ftui's defaults against Unsloth's notebooks": equal on CPU, where Unsloth keeps
# padded batches.) Qwen3-8B dims, random weights, QLoRA r=16, the Alpaca-length rows of defaults.py.
#   OUT=... bash benchmarks/training/split_check.sh      # ~4-6 minutes on one H200; $OUT/split-compare.txt
# The gradients (170 MB each) stay in $W; split_gradient.py compare prints each against padded 8 x 1:
# cosine ~1 everywhere = the first step agrees; padding-free 8 x 1 alone below 0.99 = its packed batches.
set -u
OUT=${OUT:-/tmp/ftui-split}
W=${SPLIT_WORK:-/dev/shm/ftui-split}
mkdir -p "$OUT" "$W"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
[ -e "$W/model/config.json" ] || python benchmarks/training/make_model.py "$W/model" --dims qwen3-8b --device cuda
[ -e "$W/rows.jsonl" ] || python benchmarks/training/lengths.py "$W/rows.jsonl" --model "$W/model" --rows 216
for spec in "pad81 8 1 padded" "pf81 8 1 padding_free" "pf24 2 4 padding_free" "pad24 2 4 padded"; do
    set -- $spec
    python benchmarks/training/split_gradient.py grad --model "$W/model" --data "$W/rows.jsonl" --batch "$2" \
        --grad-accum "$3" --padding "$4" --out "$W/$1.pt" >"$OUT/split-$1.txt" 2>&1
    echo "$1: exit $? $(date +%T)" | tee -a "$OUT/split-compare.txt"
done
python benchmarks/training/split_gradient.py compare "$W"/pad81.pt "$W"/pf81.pt "$W"/pf24.pt "$W"/pad24.pt \
    2>&1 | tee -a "$OUT/split-compare.txt"
