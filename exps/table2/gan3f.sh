#!/bin/bash
# Table 2: AMR mixup, k = 3.
# SUBSET=1k|5k|10k|20k; hyperparameters and SEED/SMOKE in exps/common.sh.
METHOD=gan3f METHOD_FLAGS=(--model=threegan --mixer=mixup)
source "$(dirname "$0")/../common.sh" && table2 "$@"
