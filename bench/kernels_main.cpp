// Entry point of mpq_bench_kernels.
//
// Usage: mpq_bench_kernels [--threads N] [Google Benchmark flags...]
//
// The thread count is OMP_NUM_THREADS unless --threads N (or --threads=N) is
// given; that flag is mpq's own, so it is taken out of argv before Google
// Benchmark parses the rest (it rejects flags it does not know).
// The exit status is non-zero when any benchmark's check against its float64
// reference failed (bench/check.h), so a driver script cannot mistake timings
// of a wrong kernel for results.
#include <benchmark/benchmark.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "bench/check.h"
#include "bench/harness.h"
#include "core/parallel.h"

namespace {

// Parses a positive thread count; returns 0 when `text` is not one.
int parse_threads(std::string_view text) {
  int n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n <= 0) return 0;
  return n;
}

// Removes --threads N / --threads=N from argv (compacting it in place) and
// applies it. Returns false, after printing why, on a malformed flag.
bool take_threads_flag(int& argc, char** argv) {
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    std::string_view value;
    if (arg == "--threads") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "mpq_bench_kernels: --threads expects a positive integer\n");
        return false;
      }
      value = argv[++i];
    } else if (arg.starts_with("--threads=")) {
      value = arg.substr(std::strlen("--threads="));
    } else {
      argv[out++] = argv[i];
      continue;
    }
    const int n = parse_threads(value);
    if (n == 0) {
      std::fprintf(stderr, "mpq_bench_kernels: --threads expects a positive integer, got '%.*s'\n",
                   static_cast<int>(value.size()), value.data());
      return false;
    }
    mpq::set_num_threads(n);
  }
  argc = out;
  argv[argc] = nullptr;  // argv stays null-terminated, as main's argv is
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (!take_threads_flag(argc, argv)) return 2;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  // Recorded in the output's context block (and JSON), next to the CPU info.
  benchmark::AddCustomContext("mpq_threads", std::to_string(mpq::num_threads()));
  benchmark::RunSpecifiedBenchmarks();
  mpq::bench::release_cases();
  benchmark::Shutdown();
  if (mpq::bench::any_check_failed()) {
    std::fprintf(stderr, "mpq_bench_kernels: at least one kernel failed its check (see above)\n");
    return 1;
  }
  return 0;
}
