#!/usr/bin/env bash
# Formats every C++ and CUDA file of the repository with .clang-format
# (clang-format-16, pinned: another version formats differently).
#
#   scripts/format.sh           # rewrite the files in place
#   scripts/format.sh --check   # change nothing; exit 1 naming each file that differs (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --install-only format
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh')
if [[ "${1:-}" == "--check" ]]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format-16 --style=file "$f" | cmp -s - "$f" || bad+=("$f")
  done
  if [[ ${#bad[@]} -gt 0 ]]; then
    printf 'not formatted: %s\n' "${bad[@]}" >&2
    echo "format: ${#bad[@]} file(s) differ from .clang-format; run scripts/format.sh" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files formatted"
elif [[ $# -eq 0 ]]; then
  clang-format-16 --style=file -i "${files[@]}"
else
  echo "format.sh: unknown option '$1' (use --check or nothing)" >&2
  exit 2
fi
