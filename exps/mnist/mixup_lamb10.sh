#!/bin/bash
# The reference's exps/mnist/mixup_lamb10.sh under its old name: Table 1's mixup on MNIST, exps/table1/mixup.sh.
DATASET=mnist exec bash "$(dirname "$0")/../table1/mixup.sh" "$@"
