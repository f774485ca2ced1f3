#!/bin/bash
# ACAI with ACAI's own settings (Berthelot et al., ICLR 2019; brain-research/acai acai.py, lib/train.py and
# runs/acai.sh, the mnist32 lines), not the AMR paper's: its networks as published (acai32_plain: depth 16,
# latent width 4, no instance norm, no spectral norm), mean squared error with weight 1, generator and critic
# updated on every step, Adam lr 1e-4 with TensorFlow's default betas (0.9, 0.999) and no weight decay, batch
# 64, lambda 0.5 and gamma 0.2 (what --model acai fixes), and its length: 2^14 kimg = 16,777,216 images, 336
# epochs of our 50k training split (ACAI trained on all 60k, we keep 10k for validation). The probe is ACAI's
# single linear layer on the detached code, trained alongside with the same Adam.
#   LATENT=2 (default): bottleneck 4x4x2 = 32; LATENT=16: 4x4x16 = 256 (the two MNIST runs of runs/acai.sh)
#   SEED (default 1); DATA_DIR (default ./data); arguments after the script override, e.g. --epochs=1 --batches_per_epoch=10
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
latent=${LATENT:-2}
code=$((latent * 16))
exec "${PYTHON:-python3}" task_launcher.py run --dataset=mnist --model=acai --arch=acai32_plain --latent_dim="$latent" \
  --recon_loss=l2 --lamb=1 --update_g_every=1 --lr=1e-4 --beta1=0.9 --beta2=0.999 --weight_decay=0 \
  --batch_size=64 --epochs=336 --beta=0 --cls_probe=linear --cls_probe_args="{'n_in': $code, 'n_classes': 10}" \
  --save_every=20 --save_images_every=5 --name="mnist${code}_acai_published" --seed="${SEED:-1}" "$@"
