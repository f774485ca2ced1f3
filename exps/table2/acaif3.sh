#!/bin/bash
# Table 2: ACAI as the reference ran it (--model=acai: as published).
# SUBSET=1k|5k|10k|20k; hyperparameters and SEED/SMOKE in exps/common.sh.
METHOD=acaif3 METHOD_FLAGS=(--model=acaif3 --mixer=mixup)
source "$(dirname "$0")/../common.sh" && table2 "$@"
