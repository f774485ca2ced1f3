#!/bin/bash
# Table 2: AMR mixup, k = 2.
# SUBSET=1k|5k|10k|20k; hyperparameters and SEED/SMOKE in exps/common.sh.
METHOD=mixup METHOD_FLAGS=(--mixer=mixup)
source "$(dirname "$0")/../common.sh" && table2 "$@"
