#!/usr/bin/env bash
# Sets everything up and runs the whole test suite (ctest); non-zero on any failure.
#   scripts/test.sh [--sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=build
[[ "${1:-}" == "--sanitize" ]] && build_dir=build-sanitize
scripts/setup.sh --with-data --with-onnx --with-torch "$@"
cd "$build_dir"
ctest --output-on-failure -j"$(nproc)"
