#!/bin/bash
# Table 4 at a CPU budget (docs/table4.md): the adversarially regularised autoencoder, no mixing (the
#   reference's baseline_lamb1.sh).
# Settings in exps/table4/common.sh; SEED/SMOKE as there.
METHOD=baseline FAMILY=amr METHOD_FLAGS=(--mixer=mixup --disable_mix)
source "$(dirname "$0")/common.sh" && table4 "$@"
