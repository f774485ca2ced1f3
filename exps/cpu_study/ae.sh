#!/bin/bash
# CPU study: the control: a plain autoencoder, no discriminator at all.
# Settings in exps/common.sh (cpu_study); SEED/SMOKE as there.
METHOD=ae METHOD_FLAGS=(--model=ae)
source "$(dirname "$0")/../common.sh" && cpu_study "$@"
