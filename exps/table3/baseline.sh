#!/bin/bash
# Table 3: the adversarially regularised autoencoder baseline (no mixing).
# DATASET=svhn|cifar10 BOTTLENECK=256|1024; hyperparameters and SEED/SMOKE in exps/common.sh.
METHOD=baseline METHOD_FLAGS=(--mixer=mixup --disable_mix)
source "$(dirname "$0")/../common.sh" && table3 "$@"
