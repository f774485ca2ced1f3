#!/bin/bash
# The reference's exps/mnist/gan3f_lamb10.sh under its old name: Table 1's gan3f on MNIST, exps/table1/gan3f.sh.
DATASET=mnist exec bash "$(dirname "$0")/../table1/gan3f.sh" "$@"
