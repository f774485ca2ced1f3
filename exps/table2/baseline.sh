#!/bin/bash
# Table 2: the adversarially regularised autoencoder baseline (no mixing).
# SUBSET=1k|5k|10k|20k; hyperparameters and SEED/SMOKE in exps/common.sh.
METHOD=baseline METHOD_FLAGS=(--mixer=mixup --disable_mix)
source "$(dirname "$0")/../common.sh" && table2 "$@"
