#!/bin/bash
# Table 1: ACAI as the reference ran it (--model=acai: as published).
# DATASET=mnist|kmnist|svhn; hyperparameters and SEED/SMOKE in exps/common.sh.
METHOD=acaif3 METHOD_FLAGS=(--model=acaif3 --mixer=mixup)
source "$(dirname "$0")/../common.sh" && table1 "$@"
