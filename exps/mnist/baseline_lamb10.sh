#!/bin/bash
# The reference's exps/mnist/baseline_lamb10.sh under its old name: Table 1's baseline on MNIST, exps/table1/baseline.sh.
DATASET=mnist exec bash "$(dirname "$0")/../table1/baseline.sh" "$@"
