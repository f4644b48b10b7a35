#!/usr/bin/env bash
# Sets everything up and runs mpq's main job: ResNet-20 with learned mixed precision on real
# Fashion-MNIST (or CIFAR-10 with --data DIR).
# Extra arguments go to the training program (try --help), e.g.
#   scripts/train.sh --epochs 3 --data /path/to/cifar-10-batches-bin
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-data
exec build/examples/resnet_cifar "$@"
