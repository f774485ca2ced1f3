#!/bin/bash
# Table 4 at a CPU budget (docs/table4.md): AMR Bernoulli mixup, k = 2 (the reference's mixupfm2_lamb1.sh).
# Settings in exps/table4/common.sh; SEED/SMOKE as there.
METHOD=mixupfm2 FAMILY=amr METHOD_FLAGS=(--mixer=fm2)
source "$(dirname "$0")/common.sh" && table4 "$@"
