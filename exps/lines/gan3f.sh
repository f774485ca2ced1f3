#!/bin/bash
# Lines benchmark: AMR mixup, k = 3.
# Settings in exps/common.sh (lines); SEED/SMOKE as there.
METHOD=gan3f METHOD_FLAGS=(--model=threegan --mixer=mixup)
source "$(dirname "$0")/../common.sh" && lines "$@"
