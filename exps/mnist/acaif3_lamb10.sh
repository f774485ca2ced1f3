#!/bin/bash
# The reference's exps/mnist/acaif3_lamb10.sh under its old name: Table 1's acaif3 on MNIST, exps/table1/acaif3.sh.
DATASET=mnist exec bash "$(dirname "$0")/../table1/acaif3.sh" "$@"
