#!/bin/bash
# Lines benchmark: ACAI's objective (--model acai: critic target, regulariser gamma 0.2, adversarial weight
# 0.5) with the table's networks, optimiser and reconstruction loss, as the other methods.
# Settings in exps/common.sh (lines); SEED/SMOKE as there.
METHOD=acai METHOD_FLAGS=(--model=acai --mixer=mixup)
source "$(dirname "$0")/../common.sh" && lines "$@"
