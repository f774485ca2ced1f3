#!/bin/bash
# The reference's exps/mnist/mixupfm2_lamb10.sh under its old name: Table 1's mixupfm2 on MNIST, exps/table1/mixupfm2.sh.
DATASET=mnist exec bash "$(dirname "$0")/../table1/mixupfm2.sh" "$@"
