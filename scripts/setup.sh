#!/usr/bin/env bash
# Installs mpq's build dependencies from Debian (only the missing ones) and
# configures + builds mpq incrementally.
#
#   scripts/setup.sh [--sanitize] [--build-dir DIR] [--with-data]
#
# --sanitize   build with AddressSanitizer + UBSan (default dir: build-sanitize)
# --with-data  also install dataset-fashion-mnist
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=""
sanitize=OFF
with_data=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sanitize) sanitize=ON ;;
    --build-dir) build_dir="$2"; shift ;;
    --with-data) with_data=1 ;;
    *) echo "setup.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
[[ -n "$build_dir" ]] || { [[ $sanitize == ON ]] && build_dir=build-sanitize || build_dir=build; }

packages=(cmake ninja-build g++ pkg-config python3 libeigen3-dev libdnnl-dev catch2 zlib1g-dev libstb-dev libbenchmark-dev)
[[ $with_data == 1 ]] && packages+=(dataset-fashion-mnist)
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

if [[ ! -f "$build_dir/build.ninja" ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMPQ_SANITIZE="$sanitize" >/dev/null
fi
cmake --build "$build_dir" -- -j"$(nproc)"
