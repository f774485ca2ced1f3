#!/bin/bash
# Table 1: AMR mixup, k = 2.
# DATASET=mnist|kmnist|svhn; hyperparameters and SEED/SMOKE in exps/common.sh.
METHOD=mixup METHOD_FLAGS=(--mixer=mixup)
source "$(dirname "$0")/../common.sh" && table1 "$@"
