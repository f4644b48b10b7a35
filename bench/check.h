// Verification of a benchmarked kernel against a float64 reference.
//
// A benchmark that times a wrong kernel is worse than none, so every benchmark
// computes its result once on its timing inputs, compares it with a float64
// reference and refuses to time on a mismatch: it calls
// state.SkipWithError(message) and records the failure here, and main()
// returns non-zero when any check failed (bench/kernels_main.cpp).
//
// The tolerance of one element is relative to the magnitude of the terms that
// produced it, not to the result itself: for r = sum_k t_k accumulated in
// float32, the rounding error is bounded by about K * eps * sum_k |t_k|, and a
// small result can come from the cancellation of large terms. Callers pass
// scale = sum_k |t_k| (or, for a single-term element, |r|) and
//   |got - ref| <= rtol * scale + atol
// must hold. A wrong kernel (a wrong stride, a transposed operand, a wrong
// sign) is off by about sqrt(sum_k t_k^2) ~ scale / sqrt(K) on random inputs,
// so rtol must stay well below 1 / sqrt(K) of the longest sum to be checked;
// the benchmarks use 1e-4 against K <= 2^17 (1/sqrt(K) >= 2.8e-3).
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>
#include <utility>

namespace mpq::bench {

// Set once any benchmark's check has failed; read by main().
inline std::atomic<bool> g_check_failed{false};

// Records a failed check (the message goes to stderr at once, and is what the
// caller passes to SkipWithError).
inline void record_failure(const std::string& message) {
  g_check_failed = true;
  std::fprintf(stderr, "CHECK FAILED: %s\n", message.c_str());
}

inline bool any_check_failed() {
  return g_check_failed.load();
}

// Accumulates element comparisons and keeps the worst one, so that a failure
// names what, where, the value, the reference and the bound.
class Comparison {
 public:
  Comparison(std::string what, double rtol, double atol = 0.0)
      : what_(std::move(what)), rtol_(rtol), atol_(atol) {}

  // One element at flat index `index` (of the checked tensor, row-major).
  void add(std::int64_t index, double got, double ref, double scale) {
    const double err = std::abs(got - ref);
    const double bound = rtol_ * scale + atol_;
    ++count_;
    // NaN never satisfies err <= bound, so it counts as a mismatch.
    if (!(err <= bound)) {
      ++mismatches_;
      // Keep the mismatch that is worst relative to its bound (NaN first).
      const double ratio = std::isnan(err) ? INFINITY : err / (bound > 0 ? bound : 1e-300);
      if (mismatches_ == 1 || ratio > worst_ratio_) {
        worst_ratio_ = ratio;
        worst_ = {index, got, ref, bound};
      }
    }
    if (scale > 0 && std::isfinite(err)) max_rel_ = std::max(max_rel_, err / scale);
  }

  bool ok() const { return mismatches_ == 0 && count_ > 0; }
  // Largest |got - ref| / scale seen: how far below rtol the kernel sits.
  double max_relative_error() const { return max_rel_; }

  // Empty when every element passed; otherwise a one-line description.
  std::string message() const {
    if (count_ == 0) return what_ + ": nothing was compared";
    if (mismatches_ == 0) return {};
    std::ostringstream os;
    os.precision(9);
    os << what_ << ": " << mismatches_ << " of " << count_ << " checked elements differ from the"
       << " float64 reference; worst at flat index " << worst_.index << ": got " << worst_.got
       << ", reference " << worst_.ref << " (allowed |difference| " << worst_.bound << ")";
    return os.str();
  }

 private:
  struct Worst {
    std::int64_t index = -1;
    double got = 0, ref = 0, bound = 0;
  };
  std::string what_;
  double rtol_, atol_;
  std::int64_t count_ = 0, mismatches_ = 0;
  double worst_ratio_ = 0, max_rel_ = 0;
  Worst worst_;
};

}  // namespace mpq::bench
