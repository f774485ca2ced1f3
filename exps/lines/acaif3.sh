#!/bin/bash
# Lines benchmark: ACAI as the reference ran it (acaif3).
# Settings in exps/common.sh (lines); SEED/SMOKE as there.
METHOD=acaif3 METHOD_FLAGS=(--model=acaif3 --mixer=mixup)
source "$(dirname "$0")/../common.sh" && lines "$@"
