# Sourced by every exps/table4/<method>.sh (Table 4 at a CPU budget, docs/table4.md), which sets METHOD (a
# name), FAMILY (amr or vae) and METHOD_FLAGS, then calls table4 with its own arguments.
# The reference's dSprites settings (its exps/dsprite/*.sh): the real grid, its 64 px networks (dsprite_gd,
# discriminator width 32), batch 64, lamb 1, BCE summed over pixels; AMR: Adam betas 0.5/0.99, beta 0;
# the VAE: Adam betas 0.9/0.99. Changed for the budget (docs/table4.md, with the pilot's numbers): lr 1e-3
# (reference 1e-4) for every method and, for AMR, the generator updated every step (--update_g_every 1,
# reference 5); 4 epochs of 160 batches = 640 steps, one checkpoint at the end, no scores during training.
#   SEED=1       --seed of the run (exps/run_table.sh loops over $SEEDS)
#   SMOKE=1      a smoke run: 1 epoch of 2 batches of 16, 4-channel networks
#   PYTHON       the interpreter (default python3, the first on PATH)
#   DATA_DIR     datasets (default: the launcher's, ./data); RESULTS_DIR: results root (default ./results)
# With --mode=disentangle among the arguments, every metric is scored (--mode_override metrics='all': the
# four of disentanglement_lib and the reference's two) unless the arguments give their own --mode_override.
# A script's own arguments come last, so they override everything here.
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

TABLE4_FLAGS=(--dataset=dsprite --n_channels=1 --arch=dsprite_gd --batch_size=64 --lamb=1.0 --cls=0.0
              --recon_loss=bce_sum --lr=1e-3 --epochs=4 --batches_per_epoch=160 --save_every=4
              --save_images_every=4 --disentangle_every=0 --resume=auto)
AMR_FLAGS=(--beta=0.0 --ndf=32 --beta1=0.5 --beta2=0.99 --update_g_every=1)
VAE_FLAGS=(--model=vae --beta1=0.9 --beta2=0.99)  # no discriminator: no --ndf, no --update_g_every
SMOKE_FLAGS=(--epochs=1 --batches_per_epoch=2 --batch_size=16 --ngf=4 --val_batch_size=64 --save_every=1
             --save_images_every=1)

table4() {
  local family=() smoke=() scores=() previous=""
  case $FAMILY in
    amr) family=("${AMR_FLAGS[@]}") ;;
    vae) family=("${VAE_FLAGS[@]}") ;;
    *) echo "FAMILY=$FAMILY: amr or vae" >&2; return 2 ;;
  esac
  if [ -n "${SMOKE:-}" ]; then
    smoke=("${SMOKE_FLAGS[@]}")
    [ "$FAMILY" = amr ] && smoke+=(--ndf=4)
  fi
  for arg in "$@"; do
    if [ "$arg" = --mode=disentangle ] || { [ "$previous" = --mode ] && [ "$arg" = disentangle ]; }; then
      scores=(--mode_override="metrics='all'")
    fi
    previous=$arg
  done
  # exec: the script's process becomes python, so whoever stops the script stops the run
  exec "${PYTHON:-python3}" task_launcher.py run "${TABLE4_FLAGS[@]}" "${family[@]}" "${METHOD_FLAGS[@]}" \
    --name="dsprite_$METHOD" --seed="${SEED:-1}" "${smoke[@]}" "${scores[@]}" "$@"
}
