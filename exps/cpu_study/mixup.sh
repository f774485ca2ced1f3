#!/bin/bash
# CPU study: AMR mixup, k = 2.
# Settings in exps/common.sh (cpu_study); SEED/SMOKE as there.
METHOD=mixup METHOD_FLAGS=(--mixer=mixup)
source "$(dirname "$0")/../common.sh" && cpu_study "$@"
