#!/bin/bash
# CPU study: ACAI as the reference ran it (acaif3).
# Settings in exps/common.sh (cpu_study); SEED/SMOKE as there.
METHOD=acaif3 METHOD_FLAGS=(--model=acaif3 --mixer=mixup)
source "$(dirname "$0")/../common.sh" && cpu_study "$@"
