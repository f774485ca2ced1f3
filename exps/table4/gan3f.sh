#!/bin/bash
# Table 4 at a CPU budget (docs/table4.md): AMR mixup, k = 3 (the reference's gan3f_lamb1.sh).
# Settings in exps/table4/common.sh; SEED/SMOKE as there.
METHOD=gan3f FAMILY=amr METHOD_FLAGS=(--model=threegan --mixer=mixup)
source "$(dirname "$0")/common.sh" && table4 "$@"
