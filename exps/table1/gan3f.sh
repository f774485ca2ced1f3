#!/bin/bash
# Table 1: AMR mixup, k = 3.
# DATASET=mnist|kmnist|svhn; hyperparameters and SEED/SMOKE in exps/common.sh.
METHOD=gan3f METHOD_FLAGS=(--model=threegan --mixer=mixup)
source "$(dirname "$0")/../common.sh" && table1 "$@"
