#!/usr/bin/env bash
# Sets everything up and runs mpq's main job: training on real Fashion-MNIST.
# Extra arguments go to the training program (try --help), e.g.
#   scripts/train.sh --epochs 5 --data /path/to/fashion-mnist
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-data
exec build/examples/lenet_fashion_mnist "$@"
