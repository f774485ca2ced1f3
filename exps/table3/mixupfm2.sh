#!/bin/bash
# Table 3: AMR Bernoulli mixup (fm2), k = 2.
# DATASET=svhn|cifar10 BOTTLENECK=256|1024; hyperparameters and SEED/SMOKE in exps/common.sh.
METHOD=mixupfm2 METHOD_FLAGS=(--mixer=fm2)
source "$(dirname "$0")/../common.sh" && table3 "$@"
