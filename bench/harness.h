// Running one checked benchmark: build its inputs once, check the kernel once,
// then time it.
//
// Google Benchmark calls a benchmark's function several times (a first run of
// one iteration, then runs with a growing iteration count until the minimum
// time is reached). Drawing the random inputs and computing the float64
// reference on every call would waste seconds, so a benchmark's state (a
// "case": inputs, preallocated outputs and the result of its check) is built
// on the first call and kept in a single slot keyed by the benchmark's name.
// Benchmarks run one after the other, so the next benchmark's case replaces
// (and frees) the previous one: memory stays at one case's tensors.
#pragma once

#include <benchmark/benchmark.h>

#include <exception>
#include <memory>
#include <string>

#include "bench/check.h"
#include "core/stopwatch.h"

namespace mpq::bench {

namespace detail {
inline std::string g_case_key;
inline std::shared_ptr<void> g_case;
}  // namespace detail

// Every case carries the outcome of its check: empty when the kernel matched
// its reference, otherwise the message that SkipWithError reports.
struct CheckedCase {
  std::string check_error;
};

// The case of benchmark `key`, built by make() (which runs the check) on first
// use. Returns nullptr, after SkipWithError, when the check failed or building
// threw; the caller must then return without entering the timing loop.
template <class Case, class Make>
Case* prepare(benchmark::State& state, const std::string& key, Make&& make) {
  if (detail::g_case_key != key || !detail::g_case) {
    detail::g_case.reset();  // free the previous benchmark's tensors first
    detail::g_case_key = key;
    try {
      auto c = std::make_shared<Case>(make());
      if (!c->check_error.empty()) record_failure(key + ": " + c->check_error);
      detail::g_case = std::move(c);
    } catch (const std::exception& e) {
      // A kernel that throws on its benchmark inputs fails the check too.
      auto c = std::make_shared<Case>();
      c->check_error = std::string("exception while checking: ") + e.what();
      record_failure(key + ": " + c->check_error);
      detail::g_case = std::move(c);
    }
  }
  Case* c = static_cast<Case*>(detail::g_case.get());
  if (!c->check_error.empty()) {
    state.SkipWithError(c->check_error.c_str());
    return nullptr;
  }
  return c;
}

// Frees the last benchmark's case (called when all benchmarks have run).
inline void release_cases() {
  detail::g_case.reset();
  detail::g_case_key.clear();
}

// Why the rates below are computed here instead of with Google Benchmark's
// rate counters (Counter::kIsRate, SetBytesProcessed): those divide by the
// main thread's CPU time unless the benchmark is registered with
// UseRealTime(), and the kernels run on several OpenMP threads, so the main
// thread's CPU time undercounts the elapsed time whenever it waits for the
// others (up to 2x on small problems). UseRealTime() would fix the
// denominator but appends "/real_time" to every benchmark's name, and the
// names must stay exactly as registered (e.g. "sgemm_peak/2048") for the
// scripts that parse them. So the loop measures its own wall-clock time.
//
// Wall-clock seconds of one timed run and its iteration count.
struct Timing {
  double seconds = 0;
  double iterations = 0;
  bool ok = false;  // false when the run stopped on an error
};

// The timing loop around body(); an exception thrown mid-run stops the
// benchmark with an error instead of terminating the program. (The console's
// "Time" column is Google Benchmark's own real time per iteration.)
template <class Body>
Timing timed_loop(benchmark::State& state, const std::string& key, Body&& body) {
  Timing t;
  try {
    const Stopwatch loop_time;
    for (auto _ : state) body();
    t.seconds = loop_time.seconds();
    t.iterations = static_cast<double>(state.iterations());
    t.ok = t.seconds > 0 && t.iterations > 0;
  } catch (const std::exception& e) {
    const std::string message = std::string("exception while timing: ") + e.what();
    record_failure(key + ": " + message);
    state.SkipWithError(message.c_str());
  }
  return t;
}

// Floating-point rate and count. "GFLOP/s" holds FLOP per wall-clock second
// (the console prints it with an SI prefix, "211.3G"; JSON as a plain
// number); "flops" is the plain per-call count, for scripts that aggregate
// (e.g. the FLOPs of a whole network step).
inline void set_flop_counters(benchmark::State& state, const Timing& t, double flops_per_call) {
  if (!t.ok) return;
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_call * t.iterations / t.seconds);
  state.counters["flops"] = benchmark::Counter(flops_per_call);
}

// Memory traffic rate and count, under the key SetBytesProcessed would use
// ("bytes_per_second", bytes per wall-clock second, decimal prefixes: "15.3G"
// is 15.3 GB/s); "bytes" is the plain per-call count.
inline void set_byte_counters(benchmark::State& state, const Timing& t, double bytes_per_call) {
  if (!t.ok) return;
  state.counters["bytes_per_second"] =
      benchmark::Counter(bytes_per_call * t.iterations / t.seconds);
  state.counters["bytes"] = benchmark::Counter(bytes_per_call);
}

}  // namespace mpq::bench
