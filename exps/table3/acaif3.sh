#!/bin/bash
# Table 3: ACAI as the reference ran it (--model=acai: as published).
# DATASET=svhn|cifar10 BOTTLENECK=256|1024; hyperparameters and SEED/SMOKE in exps/common.sh.
METHOD=acaif3 METHOD_FLAGS=(--model=acaif3 --mixer=mixup)
source "$(dirname "$0")/../common.sh" && table3 "$@"
