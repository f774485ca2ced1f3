# Sourced by every exps/table*/<method>.sh, which sets METHOD (a name) and METHOD_FLAGS and calls
# its table's function with its own arguments. Here: the paper's hyperparameters in the reference's
# flag names, the dataset flags of each table, the seed and the smoke switch.
#   SEED=1      --seed of the run (exps/run_table.sh loops over $SEEDS)
#   SMOKE=1     a smoke run: 1 epoch of 2 batches of 16 from 32 examples, 4-channel networks; it never
#               downloads (a missing dataset stops it with one line naming the file it needs)
#   PYTHON      the interpreter (default python3: the active environment's)
#   DATA_DIR    datasets (default: the launcher's, ./data)
#   RESULTS_DIR results root, as for task_launcher.py (default ./results)
# A script's own arguments come last, so they override everything here (e.g. --epochs=5 --batches_per_epoch=200).
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PAPER_FLAGS=(--batch_size=64 --lr=1e-4 --beta1=0.5 --beta2=0.99 --weight_decay=1e-5 --beta=0.0 --cls=0.0
             --ngf=0 --ndf=0 --update_g_every=5 --resume=auto --save_every=100 --save_images_every=100
             --cls_probe=architectures/cls_probes/linear_legacy.py)
SMOKE_FLAGS=(--epochs=1 --batches_per_epoch=2 --subset_train=32 --batch_size=16 --ngf=4 --ndf=4 --val_batch_size=500
             --save_every=1 --save_images_every=1 "--dataset_args={'download': False}")

# amr_run NAME CODE_SIZE ARGS...: one run of the table's TABLE_FLAGS and the script's METHOD_FLAGS.
amr_run() {
  local name=$1 code_size=$2
  shift 2
  local smoke=()
  [ -n "${SMOKE:-}" ] && smoke=("${SMOKE_FLAGS[@]}")
  # exec: the script's process becomes python, so whoever stops the script stops the run
  exec "${PYTHON:-python3}" task_launcher.py run "${PAPER_FLAGS[@]}" "${TABLE_FLAGS[@]}" "${METHOD_FLAGS[@]}" --name="$name" \
    --seed="${SEED:-1}" --cls_probe_args="{'n_in': $code_size, 'n_classes': 10}" "${smoke[@]}" "$@"
}

# Table 1: bottleneck 32 (arch_acai_kyle), lamb 10. DATASET=mnist|kmnist|svhn (default mnist).
table1() {
  local dataset=${DATASET:-mnist} channels=1 epochs=6000
  case $dataset in
    mnist) epochs=2000 ;;
    kmnist) ;;
    svhn) channels=3 ;;
    *) echo "DATASET=$dataset: Table 1 uses mnist, kmnist or svhn" >&2; return 2 ;;
  esac
  TABLE_FLAGS=(--dataset="$dataset" --n_channels=$channels --epochs=$epochs --lamb=10.0
               --arch=architectures/arch_acai_kyle.py)
  amr_run "${dataset}32_$METHOD" 32 "$@"
}

# Table 2: SVHN trained on a fixed subset, bottleneck 32, lamb 10. SUBSET=1k|5k|10k|20k (default 1k).
table2() {
  local subset=${SUBSET:-1k} epochs=6000
  case $subset in
    1k|5k|10k) ;;
    20k) epochs=4000 ;;
    *) echo "SUBSET=$subset: Table 2 uses 1k, 5k, 10k or 20k" >&2; return 2 ;;
  esac
  TABLE_FLAGS=(--dataset=svhn --n_channels=3 --subset_train=$((${subset%k} * 1000)) --epochs=$epochs
               --lamb=10.0 --arch=architectures/arch_acai_kyle.py)
  amr_run "svhn32_${subset}_$METHOD" 32 "$@"
}

# Table 3: larger bottlenecks. DATASET=svhn|cifar10 (default svhn), BOTTLENECK=256|1024 (default
# 256); lamb 10 on SVHN, 50 on CIFAR-10, and the epochs of the reference's scripts (svhn 1024: ours).
table3() {
  local dataset=${DATASET:-svhn} size=${BOTTLENECK:-256} lamb epochs
  case $dataset/$size in
    svhn/256|svhn/1024) lamb=10.0 epochs=4000 ;;
    cifar10/256) lamb=50.0 epochs=3000 ;;
    cifar10/1024) lamb=50.0 epochs=8000 ;;
    *) echo "DATASET=$dataset BOTTLENECK=$size: Table 3 uses svhn or cifar10 with 256 or 1024" >&2; return 2 ;;
  esac
  TABLE_FLAGS=(--dataset="$dataset" --n_channels=3 --epochs=$epochs --lamb=$lamb
               --arch="architectures/arch_acai_kyle_$size.py")
  amr_run "${dataset}${size}_$METHOD" "$size" "$@"
}

# The CPU study (exps/cpu_study/, docs/cpu_study.md): MNIST, bottleneck 32, the reference's networks, the
# paper's batch, lamb, Adam betas and weight decay, but lr 1e-3 and the generator updated every step, for
# 3 epochs of 500 batches (1500 steps), a checkpoint after each epoch (500, 1000, 1500 steps).
cpu_study() {
  TABLE_FLAGS=(--dataset=mnist --n_channels=1 --arch=architectures/arch_acai_kyle.py --lamb=10.0 --lr=1e-3
               --update_g_every=1 --epochs=3 --batches_per_epoch=500 --save_every=1 --save_images_every=3)
  amr_run "mnist32_$METHOD" 32 "$@"
}

# ACAI's lines benchmark (exps/lines/, docs/lines.md): --dataset lines (generated), ACAI's lines network
# (acai_lines: bottleneck 2x2x16 = 64) at half its width (depth 8 for G and D), ACAI's reconstruction loss
# for this benchmark, the squared error (under L1 a blank decode is where 500 steps end: docs/lines.md), the
# paper's batch, lamb, Adam betas and weight decay, lr 1e-3 and the generator updated every step, for 3
# epochs of 500 batches (1500 steps; the 18 runs take about an hour on 2 cores), both numbers of
# --mode lines_eval in results.csv after each epoch.
lines() {
  TABLE_FLAGS=(--dataset=lines --n_channels=1 --arch=acai_lines --ngf=8 --ndf=8 --recon_loss=l2 --lamb=10.0
               --lr=1e-3 --update_g_every=1 --epochs=3 --batches_per_epoch=500 --save_every=1 --save_images_every=3
               --lines_eval_every=1)
  amr_run "lines_$METHOD" 64 "$@"
}
