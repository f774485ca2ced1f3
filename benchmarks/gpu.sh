#!/bin/bash
# Every GPU measurement of the README in one command (about 5-8 minutes on an H100/H200):
#   bash benchmarks/gpu.sh [OUT_DIR]
# 1. the GPU-only tests of tests/test_speed.py (no host sync inside a step, data resident on the GPU);
# 2. benchmarks/step_time.py: reference-style step vs ours (+ bf16 autocast, + torch.compile) at batch 64
#    up to the largest batch that fits;
# 3. one full real-MNIST epoch end to end (train + valid + probe), if MNIST is under $DATA_DIR (default ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-/tmp/amr_gpu}}
mkdir -p "$OUT"
PY=${PYTHON:-python}
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
$PY -m pytest -q tests/test_speed.py 2>&1 | tail -3 | tee "$OUT/tests.txt"
$PY -m benchmarks.step_time --device cuda --steps 50 --repeats 5 \
    --batch_sizes 64,1024,4096,16384,32768 --variants reference,ours,ours+amp,ours+compile,ours+amp+compile \
    --out "$OUT/step_time.json" 2>&1 | tee "$OUT/step_time.txt"
export DATA_DIR=${DATA_DIR:-./data}
if [ -f "$DATA_DIR/MNIST/raw/train-images-idx3-ubyte" ]; then
    for flags in "" "--amp"; do
        bash exps/mnist/mixup_lamb10.sh --epochs=1 --save_path="$OUT/epoch" --name="epoch${flags:+_amp}" \
            --dataset_args="{'download': False}" $flags 2>&1 | tail -2 | tee -a "$OUT/mnist_epoch.txt"
        tail -n 1 "$OUT/epoch/s1/epoch${flags:+_amp}/0/results.csv" >> "$OUT/mnist_epoch.txt"
    done
else
    echo "no MNIST under $DATA_DIR: skipped the end-to-end epoch" | tee "$OUT/mnist_epoch.txt"
fi
