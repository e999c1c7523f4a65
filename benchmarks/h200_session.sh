#!/usr/bin/env bash
# Every device figure of BENCHMARKS.md in one lease of the two-H200 machine (nvidia-h200-x2), as the
# 2026-11-30 session ran them: the jobs start detached (setsid, so they outlive one command's 10 minutes)
# and later commands collect what has finished. Each job writes a folder under $JOBS; `collect` packs
# every finished folder into $OUT/<job>.tgz (the device tool brings back at most 8 files).
#
#   bash benchmarks/h200_session.sh start [first|rest|third|moe]  # unpack the training stack, start the jobs
#   bash benchmarks/h200_session.sh collect SECONDS     # wait until all are done or SECONDS pass; pack
#
# first (the first 2026-11-30 lease): (1) the multi-GPU benchmark on both GPUs (issue 15); then two chains
# at once, one per GPU:
#   GPU 0: ftui's defaults against the notebook and TRL, max_batch on a capped card, the time model on
#          unseen architectures (issue 17), the GPU tests of the text path;
#   GPU 1: the vision memory measurements and vision training (issue 14), merged and GGUF export (16).
# rest (what the first left, run on 2026-11-30 later): (1) on both GPUs, DDP scaling at LoRA rank 16 and 256
# with NCCL's all-reduce timed, and the two-machine launch (issue 15); then
#   GPU 0: Llama 3.2 3B full fine-tuning alone on its card, the unseen architectures' QLoRA steps, ftui's
#          defaults against the notebook with padded batches on both sides (issue 17's loss curves);
#   GPU 1: the vision measurements not yet made, vision training through `ftui train` (issue 14), the
#          split's first-step gradient with and without padding-free batches (17).
# third (the third lease of 2026-11-30): (1) on both GPUs, DDP scaling at r=16 with the references alone,
# at micro-batch 2 (host-bound) and 8 (ftui's choice for these rows) (issue 15); then
#   GPU 0: the four corners of {ftui, notebook} x {8 x 1, 2 x 4} on the same rows (17's loss curves);
#   GPU 1: the MoE, Qwen3-8B at 8 x 2048, and host-bound steps of Gemma 3 and Llama 3.2 1B (17's time model).
# moe (the fourth lease of 2026-11-30): issue 17's time model, one measure.py plan a GPU (h200-moe-a: Gemma
# 3, Llama's full fine-tuning and Qwen3-30B-A3B; h200-moe-b: OLMoE and Mixtral), ten timed steps each and
# the host's waits of one more step counted.
# A job that would start after $DEADLINE_S seconds (default 1020) from the start is skipped, so that the
# lease ends within the device budget; each job has its own time limit too.
# Needs (carry): .gpu (../shared/tools/gpu-site) and .gpu-export (benchmarks/export/prepare.sh).
set -u
MODE=${1:-collect}
REPO=$(cd "$(dirname "$0")/.." && pwd)
JOBS=/dev/shm/ftui-jobs
OUT=${OUT:-/tmp/ftui-out}

job() {  # job NAME TIMEOUT_S COMMAND...: run one, its output and exit code into $JOBS/NAME
    local name=$1 limit=$2
    shift 2
    mkdir -p "$JOBS/$name"
    if [ "$(date +%s)" -gt "$((STARTED + ${DEADLINE_S:-1020}))" ]; then
        echo "skipped: past the lease's deadline" >"$JOBS/$name/when.txt"
        touch "$JOBS/$name/.done"
        return
    fi
    local left=$((STARTED + ${DEADLINE_S:-1020} + 240 - $(date +%s)))
    [ "$limit" -gt "$left" ] && limit=$left  # no job runs more than 4 minutes past the deadline
    echo "$(date +%T) start" >"$JOBS/$name/when.txt"
    (cd "$REPO" && OUT="$JOBS/$name" timeout --signal=TERM --kill-after=20 "$limit" "$@") \
        >"$JOBS/$name/output.txt" 2>&1
    echo "$? $(date +%T) end" >>"$JOBS/$name/when.txt"
    touch "$JOBS/$name/.done"
}

chain_gpu0() {
    export CUDA_VISIBLE_DEVICES=0 NVML_INDEX=0 UNSLOTH_COMPILE_LOCATION=/dev/shm/ucc-gpu0
    job defaults 480 python benchmarks/training/defaults.py --out "$JOBS/defaults/r" --budget-s 300 \
        --work /dev/shm/ftui-defaults
    job max-batch 200 python benchmarks/vram/max_batch.py --out "$JOBS/max-batch/r"
    job unseen 330 python benchmarks/vram/measure.py --plan h200-unseen --out "$JOBS/unseen/unseen.jsonl" \
        --budget-s 230
    job gpu-tests 240 python -m pytest -p no:cacheprovider -m gpu -x -q tests/core/test_hardware_gpu.py \
        tests/tui/test_vram_gauge_gpu.py tests/e2e/test_train_gpu.py
}

chain_gpu1() {
    export CUDA_VISIBLE_DEVICES=1 NVML_INDEX=1 UNSLOTH_COMPILE_LOCATION=/dev/shm/ucc-gpu1
    job vision-measure 450 bash benchmarks/training/vision_gpu.sh measure
    job vision-train 330 bash benchmarks/training/vision_gpu.sh train
    job export 420 python benchmarks/export/bench.py --out "$JOBS/export/r" --dims llama-3.2-1b \
        --quants q8_0,q4_k_m --work /tmp/ftui-export-work
}

rest_gpu0() {
    export CUDA_VISIBLE_DEVICES=0 NVML_INDEX=0 UNSLOTH_COMPILE_LOCATION=/dev/shm/ucc-gpu0
    job full-3b 200 python benchmarks/vram/measure.py --plan h200-full-3b --out "$JOBS/full-3b/full-3b.jsonl" \
        --budget-s 120
    job unseen 390 python benchmarks/vram/measure.py --plan h200-unseen-qlora \
        --out "$JOBS/unseen/unseen.jsonl" --budget-s 300
    job padded 420 env UNSLOTH_PADDING_CHOICE=padded python benchmarks/training/defaults.py \
        --runs ftui-real,notebook-real --out "$JOBS/padded/r" --budget-s 300 --work /dev/shm/ftui-defaults
}

rest_gpu1() {
    export CUDA_VISIBLE_DEVICES=1 NVML_INDEX=1 UNSLOTH_COMPILE_LOCATION=/dev/shm/ucc-gpu1
    job vision-measure 420 env VISION_PLAN=h200-rest VISION_BUDGET_S=300 \
        bash benchmarks/training/vision_gpu.sh measure
    job vision-train 330 bash benchmarks/training/vision_gpu.sh train
    job split 360 bash benchmarks/training/split_check.sh
}

third_gpu0() {
    export CUDA_VISIBLE_DEVICES=0 NVML_INDEX=0 UNSLOTH_COMPILE_LOCATION=/dev/shm/ucc-gpu0
    job corners 540 python benchmarks/training/defaults.py \
        --runs ftui-real,notebook-real,ftui-split-real,notebook-split-real --out "$JOBS/corners/r" \
        --budget-s 450 --work /dev/shm/ftui-defaults
}

third_gpu1() {
    export CUDA_VISIBLE_DEVICES=1 NVML_INDEX=1 UNSLOTH_COMPILE_LOCATION=/dev/shm/ucc-gpu1
    job generic 480 python benchmarks/vram/measure.py --plan h200-generic \
        --out "$JOBS/generic/generic.jsonl" --budget-s 400
}

moe_gpu0() {
    export CUDA_VISIBLE_DEVICES=0 NVML_INDEX=0 UNSLOTH_COMPILE_LOCATION=/dev/shm/ucc-gpu0
    job moe-a 560 python benchmarks/vram/measure.py --plan h200-moe-a --out "$JOBS/moe-a/moe-a.jsonl" \
        --budget-s 440 --timed 10 --count-syncs
}

moe_gpu1() {
    export CUDA_VISIBLE_DEVICES=1 NVML_INDEX=1 UNSLOTH_COMPILE_LOCATION=/dev/shm/ucc-gpu1
    job moe-b 560 python benchmarks/vram/measure.py --plan h200-moe-b --out "$JOBS/moe-b/moe-b.jsonl" \
        --budget-s 440 --timed 10 --count-syncs
}

if [ "$MODE" = start ]; then
    SESSION=${2:-first}
    rm -rf "$JOBS" && mkdir -p "$JOBS"
    tar xzf "$REPO/.gpu/site.tgz" -C /tmp
    if ls "$REPO"/.gpu-export/*.whl >/dev/null 2>&1; then  # the export job's llama-cpp-python (first only)
        python3 -m pip install -q --no-deps --no-index --target /tmp/lcp "$REPO"/.gpu-export/*.whl
    fi
    cat >"$JOBS/env.sh" <<EOF
export PYTHONPATH=/tmp/gpusite:/tmp/lcp:$REPO HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
export FTUI_LLAMA_CPP=$REPO/.gpu-export/llama.cpp
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
EOF
    # shellcheck disable=SC1091
    . "$JOBS/env.sh"
    nvidia-smi --query-gpu=index,name,memory.used,memory.total --format=csv >"$JOBS/gpus.txt" 2>&1
    export -f job chain_gpu0 chain_gpu1 rest_gpu0 rest_gpu1 third_gpu0 third_gpu1 moe_gpu0 moe_gpu1
    STARTED=$(date +%s)
    export JOBS REPO STARTED
    if [ "$SESSION" = moe ]; then
        setsid bash -c '
            moe_gpu0 & moe_gpu1 & wait
            touch "$JOBS/.all-done"' >"$JOBS/session.log" 2>&1 </dev/null &
    elif [ "$SESSION" = third ]; then
        setsid bash -c '
            job multigpu 540 python benchmarks/multigpu/gpu_bench.py --phases c --c-ranks 16 --c-batches 2,8 \
                --out "$JOBS/multigpu/r" --budget-s 480
            third_gpu0 & third_gpu1 & wait
            touch "$JOBS/.all-done"' >"$JOBS/session.log" 2>&1 </dev/null &
    elif [ "$SESSION" = rest ]; then
        setsid bash -c '
            job multigpu 480 python benchmarks/multigpu/gpu_bench.py --phases b,c --c-ranks 16,256 --nccl-debug \
                --out "$JOBS/multigpu/r" --budget-s 420
            rest_gpu0 & rest_gpu1 & wait
            touch "$JOBS/.all-done"' >"$JOBS/session.log" 2>&1 </dev/null &
    else
        DEADLINE_S=100000 setsid bash -c '
            job multigpu 540 python benchmarks/multigpu/gpu_bench.py --out "$JOBS/multigpu/r" --budget-s 420
            chain_gpu0 & chain_gpu1 & wait
            touch "$JOBS/.all-done"' >"$JOBS/session.log" 2>&1 </dev/null &
    fi
    echo "started ($SESSION); jobs in $JOBS"
    exit 0
fi

deadline=$(($(date +%s) + ${2:-0}))
while [ ! -e "$JOBS/.all-done" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 5; done
mkdir -p "$OUT"
for dir in "$JOBS"/*/; do
    name=$(basename "$dir")
    [ -e "$dir/.done" ] && [ ! -e "$dir/.packed" ] || continue
    tar czf "$OUT/$name.tgz" -C "$JOBS" --exclude='*.safetensors' --exclude='*.gguf' --exclude='*.bin' \
        --exclude='*.pt' --exclude='checkpoint-*' "$name" && touch "$dir/.packed"
done
for dir in "$JOBS"/*/; do
    printf '%s: %s\n' "$(basename "$dir")" "$(tr '\n' ' ' <"$dir/when.txt" 2>/dev/null)"
    tail -n 3 "$dir/output.txt" 2>/dev/null | cut -c1-300
done
cat "$JOBS/gpus.txt" 2>/dev/null
