#!/bin/bash
# Table 1: the adversarially regularised autoencoder baseline (no mixing).
# DATASET=mnist|kmnist|svhn; hyperparameters and SEED/SMOKE in exps/common.sh.
METHOD=baseline METHOD_FLAGS=(--mixer=mixup --disable_mix)
source "$(dirname "$0")/../common.sh" && table1 "$@"
