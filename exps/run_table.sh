#!/bin/bash
# Runs one table of the paper: every method of exps/<table>/ for each setting and seed, the offline
# probe (--mode=probe) of each run, then the report (python -m evaluation.report).
#   bash exps/run_table.sh table1 [ARGS...]    DATASETS="mnist kmnist svhn"
#   bash exps/run_table.sh table2 [ARGS...]    SUBSETS="1k 5k 10k 20k"
#   bash exps/run_table.sh table3 [ARGS...]    DATASETS="svhn cifar10" BOTTLENECKS="256 1024"
#   bash exps/run_table.sh cpu_study [ARGS...] MNIST only (docs/cpu_study.md); probes every checkpoint
#   bash exps/run_table.sh lines [ARGS...]     ACAI's lines benchmark (docs/lines.md); --mode lines_eval, no probe
#   bash exps/run_table.sh realism [ARGS...]   the CPU study's runs scored by the probe and --mode realism at every
#                                              checkpoint (docs/realism.md)
#   bash exps/run_table.sh table4 [ARGS...]    Table 4 at a CPU budget (docs/table4.md): dSprites, --mode disentangle
#                                              (every metric, a latent traversal) of the last checkpoint, no probe
# SEEDS (default "1 2 3"), METHODS (default: every script of the table), LAST (epochs of the online
# median, default 20), PROBE_OVERRIDE (--mode_override of the first EVAL_MODE, e.g. train_examples=10000),
# EVAL_MODE (the evaluations after training, one or more modes: probe, default; lines: lines_eval; realism:
# "probe realism"),
# PROBE_EPOCHS (checkpoints to evaluate, oldest first, each writing probe_epoch<N>.json; default: the newest
# only; cpu_study: "1 2 3"), JOBS (runs at a time, default 1; each run may use several cores), RESULTS_DIR (default
# results/<table>), SMOKE=1 and DATA_DIR as in exps/common.sh.
# ARGS go to every run, training and probe, e.g. --epochs=3 --batches_per_epoch=100 for a fixed step budget.
# A failed run does not stop the others; the report lists it and the exit status is 1.
set -u
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bash exps/run_table.sh table1|table2|table3 [ARGS...]" >&2; exit 2; }
table=$1
shift
export RESULTS_DIR=${RESULTS_DIR:-results/$table}
case $table in
  table1) settings=$(for d in ${DATASETS:-mnist kmnist svhn}; do echo "DATASET=$d"; done) ;;
  table2) settings=$(for s in ${SUBSETS:-1k 5k 10k 20k}; do echo "SUBSET=$s"; done) ;;
  table3) settings=$(for d in ${DATASETS:-svhn cifar10}; do for b in ${BOTTLENECKS:-256 1024}; do
            echo "DATASET=$d BOTTLENECK=$b"; done; done) ;;
  cpu_study) settings="DATASET=mnist" PROBE_EPOCHS=${PROBE_EPOCHS:-1 2 3} ;;
  lines) settings="DATASET=lines" EVAL_MODE=${EVAL_MODE:-lines_eval} ;;
  realism) settings="DATASET=mnist" PROBE_EPOCHS=${PROBE_EPOCHS:-1 2 3} EVAL_MODE=${EVAL_MODE:-probe realism}
           scripts=cpu_study ;;  # the CPU study's runs
  table4) settings="DATASET=dsprite" EVAL_MODE=${EVAL_MODE:-disentangle}
          METHODS=${METHODS:-baseline mixup mixupfm2 gan3f bvae_beta100 bvae_beta4} ;;  # exps/table4/common.sh: no method
  *) echo "$table: not a table; use table1, table2, table3, cpu_study, lines, realism or table4" >&2; exit 2 ;;
esac
scripts=${scripts:-$table}
methods=${METHODS:-$(cd "exps/$scripts" && ls -- *.sh | sed 's/\.sh$//')}

run_one() {  # SETTING SEED METHOD ARGS...: train, then evaluate (each of PROBE_EPOCHS, the newest last)
  local setting=$1 seed=$2 method=$3 epoch mode override first
  shift 3
  echo "== $table $setting SEED=$seed $method"
  # shellcheck disable=SC2086  # $setting is a list of VAR=value words
  env $setting SEED="$seed" bash "exps/$scripts/$method.sh" "$@" || return 1
  for epoch in ${PROBE_EPOCHS:-auto}; do
    first=1
    for mode in ${EVAL_MODE:-probe}; do
      override=()
      [ -n "$first" ] && [ -n "${PROBE_OVERRIDE:-}" ] && override=(--mode_override="$PROBE_OVERRIDE")
      first=
      # shellcheck disable=SC2086
      env $setting SEED="$seed" bash "exps/$scripts/$method.sh" "$@" --mode="$mode" "${override[@]}" \
        --resume="$epoch" || return 1
    done
  done
}

failed=0 running=0
while read -r setting; do
  for seed in ${SEEDS:-1 2 3}; do
    for method in $methods; do
      run_one "$setting" "$seed" "$method" "$@" &
      running=$((running + 1))
      if [ "$running" -ge "${JOBS:-1}" ]; then
        wait -n || failed=1
        running=$((running - 1))
      fi
    done
  done
done <<< "$settings"
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
"${PYTHON:-python3}" -m evaluation.report "$RESULTS_DIR" --last "${LAST:-20}" || failed=1
exit $failed
