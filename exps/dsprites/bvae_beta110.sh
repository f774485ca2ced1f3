#!/bin/bash
# The reference repository's exps/dsprite/bvae_beta110.sh (Table 4's beta-VAE baseline, beta 110 in its units),
# its command line unchanged; only the data folder ($DATA_DIR, default ./data) and the python of the active
# environment (${PYTHON:-python3}) are ours. Its spellings mean what the reference computed: --recon_loss bce
# under --model vae is BCE summed over pixels with --beta on a KL averaged over the latent dimensions (stored
# as --beta 110/10 on the summed KL: one line says so); --ndf is ignored by a VAE (one line says so; --cls 0
# and --mixer mixup are the defaults). Flags given to this script are appended.
cd "$(dirname "$0")/../.."
exec "${PYTHON:-python3}" task_launcher.py run \
--model=vae \
--dataset=dsprite \
--arch=architectures/arch_dsprite_burgess-g_kyle_d_vae.py \
--save_every=10 \
--save_images_every=1 \
--epochs=500 \
--resume=auto \
--n_channels=1 \
--ndf=16 \
--batch_size=64 \
--beta=110.0 \
--lamb=1.0 \
--cls=0.0 \
--mixer=mixup \
--seed=4 \
--beta1=0.9 \
--beta2=0.99 \
--lr=1e-4 \
--recon_loss=bce \
"$@"
