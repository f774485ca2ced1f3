#!/bin/bash
# Lines benchmark: the adversarially regularised autoencoder baseline (no mixing).
# Settings in exps/common.sh (lines); SEED/SMOKE as there.
METHOD=baseline METHOD_FLAGS=(--mixer=mixup --disable_mix)
source "$(dirname "$0")/../common.sh" && lines "$@"
