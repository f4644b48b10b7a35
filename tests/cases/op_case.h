// One case list per op (the pattern of ggml's test-backend-ops): each op's
// cases (shapes, parameters, inputs kept away from non-smooth points,
// tolerances, cost) are written once, in tests/cases/<op>.cpp, and used by
//   - tests/test_op_cases.cpp: float64 gradients against central finite
//     differences (or, for the quantizers' staircases, against a hand-written
//     reference), float32 against float64, and every registered backend
//     against the CPU, bit-exact repeats included;
//   - bench/bench_ops.cpp: the same cases timed on every backend with their
//     FLOP and byte counts.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace mpq::cases {

using Inputs = std::vector<Tensor>;
using OpFn = std::function<Tensor(const Inputs&)>;

struct OpCase {
  std::string op;    // the op's name ("conv2d"): one entry of the backend table or a few
  std::string name;  // what this case varies ("x[2,4,7,7] w[6,2,3,3] stride 2 groups 2")
  // The inputs, float64 on the CPU, from a seed (the runner converts floating
  // inputs to float32 and moves them to a device); integer inputs (labels,
  // masks) keep their dtype and get no gradient.
  std::function<Inputs(std::uint64_t seed)> make_inputs;
  OpFn run;
  // Where finite differences do not apply (a staircase's straight-through
  // gradient), the float64 check compares values and gradients with this
  // reference instead.
  OpFn reference;
  // float64 gradient check (finite differences or the reference).
  double fd_eps = 1e-6, grad_atol = 1e-6, grad_rtol = 1e-5;
  // float32 against float64, values and gradients.
  double f32_atol = 1e-5, f32_rtol = 1e-4;
  // Another backend (float32) against the CPU (float32).
  double backend_atol = 1e-5, backend_rtol = 1e-4;
  // A benchmark-sized case (ResNet-20 shapes): timed, checked in float32 and
  // across backends, too large for finite differences.
  bool perf = false;
  // Forward cost, for FLOP/s and bytes/s in the benchmark (0: not reported).
  double flops = 0, bytes = 0;
};

// Every op's cases, in a fixed order.
const std::vector<OpCase>& all_op_cases();

// One file per op family (tests/cases/<op>.cpp).
std::vector<OpCase> elementwise_cases();
std::vector<OpCase> reduce_cases();
std::vector<OpCase> matmul_cases();
std::vector<OpCase> conv2d_cases();
std::vector<OpCase> batch_norm_cases();
std::vector<OpCase> pool_cases();
std::vector<OpCase> cross_entropy_cases();
std::vector<OpCase> quantize_cases();

// The inputs of `c` (from a fixed seed) in `dtype` on `device`: floating
// inputs converted and made gradient leaves, integer ones (labels) as they
// are. The runner and the benchmarks prepare every case this way.
Inputs prepared_inputs(const OpCase& c, DType dtype, Device device);

// Helpers of the case files: uniform float64 values in [lo, hi) from a seed,
// and values at least `gap` apart from each other in [lo, hi) (a random
// permutation of a grid), for ops with kinks between inputs (max, pooling).
Tensor uniform(const Shape& s, std::uint64_t seed, double lo = -1, double hi = 1);
Tensor distinct(const Shape& s, std::uint64_t seed, double lo = -1, double hi = 1);
// Values in [lo, hi) whose magnitude is at least `away` (away from a kink at 0).
Tensor away_from_zero(const Shape& s, std::uint64_t seed, double away, double hi = 1);

// A case's name from parts, appended in order (GCC 12 warns falsely about
// "literal" + std::string chains: -Wrestrict, its bug 105329).
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  ((s += parts), ...);
  return s;
}

}  // namespace mpq::cases
