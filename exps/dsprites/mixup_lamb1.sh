#!/bin/bash
# The reference repository's exps/dsprite/mixup_lamb1.sh (Table 4, mixup autoencoder on dSprites) with
# the data folder $DATA_DIR (default ./data, the launcher's; it reads
# dsprites/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz, else dsprites/dsprites_downsampled.npz) and the
# FactorVAE/BetaVAE/MIG scores added to results.csv every 10 epochs. Afterwards:
#   bash exps/dsprites/mixup_lamb1.sh --mode=disentangle      # all four metrics -> disentangle.json
# Extra flags given to this script are appended, so later values override.
cd "$(dirname "$0")/../.."
exec "${PYTHON:-python3}" task_launcher.py run \
--dataset=dsprite \
--arch=architectures/dsprite_gd.py \
--save_every=2 \
--save_images_every=1 \
--epochs=500 \
--ndf=32 \
--resume=auto \
--n_channels=1 \
--batch_size=64 \
--beta=0.0 \
--lamb=1.0 \
--cls=0.0 \
--mixer=mixup \
--seed=4 \
--beta1=0.5 \
--beta2=0.99 \
--lr=1e-4 \
--recon_loss=bce_sum \
--disentangle_every=10 \
"$@"
