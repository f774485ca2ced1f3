#!/bin/bash
# The reference repository's exps/mnist/mixupfm2_lamb10.sh command line, unchanged but for the
# data folder: $DATA_DIR (default ../shared/data seen from the repo root). Extra flags given
# to this script are appended, so e.g. `bash exps/mnist/mixupfm2_lamb10.sh --epochs=1 --bpc=10` is a smoke run.
cd "$(dirname "$0")/../.."
export DATA_DIR=${DATA_DIR:-../shared/data}
python task_launcher.py run \
--mixer=fm2 \
--dataset=mnist \
--arch=architectures/arch_acai_kyle.py \
--save_every=100 \
--save_images_every=100 \
--epochs=2000 \
--resume=auto \
--n_channels=1 \
--ngf=0 \
--ndf=0 \
--batch_size=64 \
--beta=0.0 \
--lamb=10.0 \
--cls=0.0 \
--seed=1 \
--cls_probe=architectures/cls_probes/linear_legacy.py \
--cls_probe_args="{'n_in': 32, 'n_classes':10}" \
--weight_decay=1e-5 \
--beta1=0.5 \
--beta2=0.99 \
--lr=1e-4 \
"$@"
