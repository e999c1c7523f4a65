#!/usr/bin/env bash
# What the 2026-11-30 session (benchmarks/h200_session.sh) left out, in one device call on nvidia-h200-x2
# (under 5 minutes; carry .gpu and .gpu-export; the stack unpacked as h200_session.sh's `start` does):
#   1. both GPUs: gpu_bench.py --phases b, the two-machine launch of issue 15 (b), alone on the machine
#      (its per-GPU peaks are NVML's, which counts every process on a card), with NCCL's transport lines;
#   2. then at the same time, so that their ratio is of one call: GPU 0 ftui's defaults (ftui-real),
#      GPU 1 plain transformers + PEFT + TRL with TRL's default padding (plain-real), defaults.py --runs.
#      GPU0_RUNS=ftui-split-real puts ftui at the notebook's 2 x 4 on GPU 0 instead: its loss curve against
#      the notebook's and ftui-real's of 2026-11-30 says whether the split is what makes them differ (the
#      ftui / plain ratio is then across calls).
# Every part has its own time limit, so the call ends by its start + 300 s whatever happens (the defaults
# are cut at start + 290 s; a run cut short keeps the steps it logged).
#
#   OUT=... bash benchmarks/h200_fill.sh       # writes $OUT/fill.tgz and $OUT/fill.txt (two files)
set -u
START=$(date +%s)
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/ftui-out}
W=/dev/shm/ftui-fill
rm -rf "$W" && mkdir -p "$W" "$OUT"
cd "$REPO" || exit 1
tar xzf .gpu/site.tgz -C /tmp
python3 -m pip install -q --no-deps --no-index --target /tmp/lcp .gpu-export/*.whl
export PYTHONPATH=/tmp/gpusite:/tmp/lcp:$REPO HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
export FTUI_LLAMA_CPP=$REPO/.gpu-export/llama.cpp
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
{
    date +%T
    nvidia-smi --query-gpu=index,name,memory.used,memory.total --format=csv
    nvidia-smi topo -m
} >"$W/gpus.txt" 2>&1

timeout --signal=TERM --kill-after=10 190 python benchmarks/multigpu/gpu_bench.py --phases b --nccl-debug \
    --out "$W/multigpu" --budget-s 180 >"$W/multigpu.txt" 2>&1
echo "$? $(date +%T)" >"$W/multigpu.done"

LEFT=$((START + 290 - $(date +%s)))
defaults() {  # defaults GPU RUN
    CUDA_VISIBLE_DEVICES=$1 NVML_INDEX=$1 UNSLOTH_COMPILE_LOCATION=/dev/shm/ucc-gpu$1 \
        timeout --signal=TERM --kill-after=10 "$LEFT" python benchmarks/training/defaults.py --runs "$2" \
        --out "$W/$2" --budget-s 150 --work "$W/work-$1" >"$W/$2.txt" 2>&1
    echo "$? $(date +%T)" >"$W/$2.done"
}
if [ "$LEFT" -gt 100 ]; then
    defaults 0 "${GPU0_RUNS:-ftui-real}" &
    defaults 1 plain-real &
    wait
else
    echo "skipped: $LEFT s left" >"$W/defaults-skipped.txt"
fi
tar czf "$OUT/fill.tgz" -C "$W" --exclude='*.safetensors' --exclude='checkpoint-*' --exclude='model-*' \
    --exclude='data-full.jsonl' .
{
    echo "wall $(($(date +%s) - START)) s"
    for f in "$W"/*.done; do echo "$(basename "$f"): $(cat "$f")"; done
    tail -n 4 "$W"/*.txt | cut -c1-300
    cat "$W/multigpu/summary.json" 2>/dev/null
} | tee "$OUT/fill.txt"
