#!/bin/bash
# CPU study: the adversarially regularised autoencoder baseline (no mixing).
# Settings in exps/common.sh (cpu_study); SEED/SMOKE as there.
METHOD=baseline METHOD_FLAGS=(--mixer=mixup --disable_mix)
source "$(dirname "$0")/../common.sh" && cpu_study "$@"
