#!/bin/bash
# Every GPU measurement and GPU-only test in one command: a thin wrapper around benchmarks/gpu_check.py
# (docs/speed.md, "The GPU check"), about 8-10 minutes on an H100/H200:
#   bash benchmarks/gpu.sh [OUT_DIR] [more benchmarks.gpu_check flags, e.g. --budget_s 480 --parts step_time]
# OUT_DIR (default $OUT, else /tmp/amr_gpu) receives summary.md, summary.json and logs/. MNIST is read from
# $DATA_DIR (default ./data) when it is there, else generated. Exit status 0 when every part is ok or skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-/tmp/amr_gpu}}
[ $# -gt 0 ] && shift
exec "${PYTHON:-python}" -m benchmarks.gpu_check --device cuda --out "$OUT" --data_dir "${DATA_DIR:-./data}" "$@"
