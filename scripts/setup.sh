#!/usr/bin/env bash
# Installs mpq's build dependencies from Debian (only the missing ones) and
# configures + builds mpq incrementally.
#
#   scripts/setup.sh [--sanitize] [--build-dir DIR] [--with-data] [--with-onnx] [--with-torch]
#                    [--install-only GROUP ...]
#
# --sanitize      build with AddressSanitizer + UBSan (default dir: build-sanitize),
#                 without the CUDA backend (-DMPQ_CUDA=OFF) and without MPI
#                 (-DMPQ_MPI=OFF): the sanitizers see host code only (and
#                 would report Open MPI's own allocations), and CI thereby also
#                 builds and tests mpq as a machine without CUDA or MPI gets it
# --with-data     also install the "data" group (dataset-fashion-mnist)
# --with-onnx     also install the "onnx" group, Node.js and npm where missing,
#                 and onnxruntime-node into <build dir>/onnxruntime
# --with-torch    also install the "torch" group (python3-torch, python3-torchvision)
# --install-only  install the named groups of scripts/packages.txt and stop
#                 (e.g. "--install-only fuzz" for scripts/fuzz.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=""
sanitize=OFF
groups=(build)
install_only=0
with_onnx=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sanitize) sanitize=ON ;;
    --build-dir)
      [[ $# -ge 2 ]] || { echo "setup.sh: --build-dir needs a folder" >&2; exit 2; }
      build_dir="$2"; shift ;;
    --with-data) groups+=(data) ;;
    --with-onnx) groups+=(onnx); with_onnx=1 ;;
    --with-torch) groups+=(torch) ;;
    --install-only)
      install_only=1; groups=()
      while [[ $# -ge 2 && "$2" != --* ]]; do groups+=("$2"); shift; done
      [[ ${#groups[@]} -gt 0 ]] || { echo "setup.sh: --install-only needs a group" >&2; exit 2; } ;;
    *) echo "setup.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
[[ -n "$build_dir" ]] || { [[ $sanitize == ON ]] && build_dir=build-sanitize || build_dir=build; }

# The packages of each requested group, from scripts/packages.txt ("group: pkg ...").
packages=()
for g in "${groups[@]}"; do
  line=$(grep -E "^$g:" scripts/packages.txt) || { echo "setup.sh: no package group '$g' in scripts/packages.txt" >&2; exit 2; }
  read -r -a pkgs <<<"${line#*:}"
  packages+=("${pkgs[@]}")
done
# Node.js and npm for ONNX Runtime: Debian's, unless the machine has its own.
if [[ $with_onnx == 1 ]]; then
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[[ $install_only == 1 ]] && exit 0

# Debian's python3 (the one apt installs modules for), not whichever python3
# comes first on PATH (a pyenv shim, a virtualenv): the tests run scripts with it.
cuda=AUTO
mpi=AUTO
[[ $sanitize == ON ]] && cuda=OFF && mpi=OFF
if [[ ! -f "$build_dir/build.ninja" ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMPQ_SANITIZE="$sanitize" \
    -DMPQ_CUDA="$cuda" -DMPQ_MPI="$mpi" -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
fi
cmake --build "$build_dir" -- -j"$(nproc)"
# ONNX Runtime for the ONNX tests: npm's onnxruntime-node (CPU binaries in
# the package; --ignore-scripts: nothing else is downloaded).
if [[ $with_onnx == 1 && ! -d "$build_dir/onnxruntime/node_modules/onnxruntime-node" ]]; then
  echo "setup: installing onnxruntime-node into $build_dir/onnxruntime" >&2
  npm install --ignore-scripts --no-audit --no-fund --loglevel=error \
    --prefix "$build_dir/onnxruntime" onnxruntime-node@1.30 >/dev/null
fi
