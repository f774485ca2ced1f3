#!/bin/bash
# Table 1: AMR Bernoulli mixup (fm2), k = 2.
# DATASET=mnist|kmnist|svhn; hyperparameters and SEED/SMOKE in exps/common.sh.
METHOD=mixupfm2 METHOD_FLAGS=(--mixer=fm2)
source "$(dirname "$0")/../common.sh" && table1 "$@"
