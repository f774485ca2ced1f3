#!/bin/bash
# Lines benchmark: AMR mixup, k = 2.
# Settings in exps/common.sh (lines); SEED/SMOKE as there.
METHOD=mixup METHOD_FLAGS=(--mixer=mixup)
source "$(dirname "$0")/../common.sh" && lines "$@"
