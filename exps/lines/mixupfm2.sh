#!/bin/bash
# Lines benchmark: AMR Bernoulli mixup (fm2), k = 2.
# Settings in exps/common.sh (lines); SEED/SMOKE as there.
METHOD=mixupfm2 METHOD_FLAGS=(--mixer=fm2)
source "$(dirname "$0")/../common.sh" && lines "$@"
