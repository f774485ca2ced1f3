#!/bin/bash
# Table 2: AMR Bernoulli mixup (fm2), k = 2.
# SUBSET=1k|5k|10k|20k; hyperparameters and SEED/SMOKE in exps/common.sh.
METHOD=mixupfm2 METHOD_FLAGS=(--mixer=fm2)
source "$(dirname "$0")/../common.sh" && table2 "$@"
