#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz, MPQ_FUZZ=ON: clang-16, ASan +
# UBSan) in build-fuzz and runs each for N seconds from its committed seed
# corpus (tests/fuzz/corpus/<name>), printing the executions per harness.
# Exits non-zero when any harness finds a crash, a leak, undefined behaviour,
# an uncaught exception other than mpq::Error, an allocation above
# --malloc-mb or an input slower than 10 s; the input is kept in
# build-fuzz/findings/<name>/ and its reproduction command printed.
#
#   scripts/fuzz.sh [--seconds N] [--only NAME[,NAME...]] [--runs N] [--malloc-mb N]
#
# --seconds N   time per harness (default 30)
# --runs N      stop each harness after N executions instead (with --seconds as a cap)
# --only        run only these harnesses (npy checkpoint json ini idx cifar image flags model)
# New inputs that reach new code go to build-fuzz/corpus/<name> (kept between
# runs, so a longer campaign continues where the last stopped); the committed
# seeds are only read.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
runs=""
only=""
malloc_mb=1024
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --seconds needs a positive integer" >&2; exit 2; }
      seconds="$2"; shift ;;
    --runs) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --runs needs a positive integer" >&2; exit 2; }
      runs="$2"; shift ;;
    --malloc-mb) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --malloc-mb needs a positive integer" >&2; exit 2; }
      malloc_mb="$2"; shift ;;
    --only) [[ $# -ge 2 ]] || { echo "fuzz.sh: --only needs harness names" >&2; exit 2; }
      only="$2"; shift ;;
    *) echo "fuzz.sh: unknown option '$1' (see the top of scripts/fuzz.sh)" >&2; exit 2 ;;
  esac
  shift
done

all=(npy checkpoint json ini idx cifar image flags model)
harnesses=("${all[@]}")
if [[ -n "$only" ]]; then
  IFS=, read -r -a harnesses <<<"$only"
  for h in "${harnesses[@]}"; do
    [[ " ${all[*]} " == *" $h "* ]] || { echo "fuzz.sh: no harness '$h' (have: ${all[*]})" >&2; exit 2; }
  done
fi

scripts/setup.sh --install-only build fuzz
dir=build-fuzz
{
  # Static, CPU only, without MPI, no tests, examples or benchmarks: the library and the harnesses.
  # The archiver and friends are binutils' (which g++ depends on): with clang,
  # CMake would take an llvm-ar or ld.lld that happens to be installed, from
  # packages setup.sh does not install.
  binutils=()
  for t in AR:ar RANLIB:ranlib NM:nm OBJCOPY:objcopy OBJDUMP:objdump READELF:readelf STRIP:strip \
           ADDR2LINE:addr2line LINKER:ld CXX_COMPILER_AR:ar CXX_COMPILER_RANLIB:ranlib; do
    binutils+=("-DCMAKE_${t%%:*}=/usr/bin/${t#*:}")
  done
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${binutils[@]}" -DCMAKE_DLLTOOL= \
    -DCMAKE_CXX_COMPILER=clang++-16 -DMPQ_FUZZ=ON -DMPQ_CUDA=OFF -DMPQ_MPI=OFF \
    -DMPQ_BUILD_TESTS=OFF -DMPQ_BUILD_EXAMPLES=OFF -DMPQ_BUILD_BENCH=OFF -DBUILD_SHARED_LIBS=OFF >/dev/null
}
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$dir" --target "${targets[@]}"
# What the fuzz build found must be installed by setup.sh's groups, like the main build.
/usr/bin/python3 scripts/check_deps.py --build-dir "$dir" --groups build,fuzz

# ASan: leaks are findings; UBSan: a report aborts (and gives a stack).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
total=0
printf '%-11s %12s %8s %s\n' harness executions corpus result
for h in "${harnesses[@]}"; do
  corpus="$dir/corpus/$h" findings="$dir/findings/$h" log="$dir/fuzz-$h.log"
  mkdir -p "$corpus" "$findings"
  limit=(-max_total_time="$seconds")
  [[ -n "$runs" ]] && limit+=(-runs="$runs")
  set +e
  "$dir/tests/fuzz/fuzz_$h" "$corpus" "tests/fuzz/corpus/$h" "${limit[@]}" \
    -malloc_limit_mb="$malloc_mb" -rss_limit_mb=$((malloc_mb * 2)) -timeout=10 -max_len=65536 \
    -artifact_prefix="$findings/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  units=$(ls "$corpus" | wc -l)
  if [[ $rc -eq 0 ]]; then
    result=ok
  else
    result="FOUND A PROBLEM (exit $rc): $(grep -m1 -E 'ERROR|runtime error|deadly signal|uncaught|out-of-memory|timeout' "$log" || tail -1 "$log")"
    status=1
  fi
  printf '%-11s %12s %8s %s\n' "$h" "${execs:-?}" "$units" "$result"
  total=$((total + ${execs:-0}))
  if [[ $rc -ne 0 ]]; then
    for f in "$findings"/*; do
      [[ -e "$f" ]] && echo "  reproduce: $dir/tests/fuzz/fuzz_$h $f   (log: $log)"
    done
  fi
done
echo "total executions: $total"
exit $status
