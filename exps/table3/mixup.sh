#!/bin/bash
# Table 3: AMR mixup, k = 2.
# DATASET=svhn|cifar10 BOTTLENECK=256|1024; hyperparameters and SEED/SMOKE in exps/common.sh.
METHOD=mixup METHOD_FLAGS=(--mixer=mixup)
source "$(dirname "$0")/../common.sh" && table3 "$@"
