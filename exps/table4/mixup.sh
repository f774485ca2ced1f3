#!/bin/bash
# Table 4 at a CPU budget (docs/table4.md): AMR mixup, k = 2 (the reference's mixup_lamb1.sh).
# Settings in exps/table4/common.sh; SEED/SMOKE as there.
METHOD=mixup FAMILY=amr METHOD_FLAGS=(--mixer=mixup)
source "$(dirname "$0")/common.sh" && table4 "$@"
