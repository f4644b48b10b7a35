// Deterministic random numbers: the same seed gives the same numbers on every
// run, machine and compiler (no std:: distributions, whose output is
// implementation-defined).
//
// Engine: xoshiro256** seeded through splitmix64. uniform: top 53 bits of a
// draw scaled to [0, 1). normal: Box-Muller on two uniforms (the second value
// is kept for the next call). Integers in [0, n): Lemire's multiply-shift
// with rejection, so there is no modulo bias.
#pragma once

#include <array>
#include <cstdint>

#include "core/tensor.h"

namespace mpq {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0x6d7071ULL) { seed_with(seed); }
  void seed_with(std::uint64_t seed);

  std::uint64_t next_u64();
  double uniform();                      // [0, 1)
  double uniform(double lo, double hi);  // [lo, hi)
  double normal(double mean = 0.0, double stddev = 1.0);
  std::uint64_t below(std::uint64_t n);  // [0, n)

  // Full state (for checkpoints): 4 engine words, spare normal, flag.
  struct State {
    std::array<std::uint64_t, 4> s;
    double spare;
    bool has_spare;
  };
  State state() const { return {s_, spare_, has_spare_}; }
  void set_state(const State& st) {
    s_ = st.s;
    spare_ = st.spare;
    has_spare_ = st.has_spare;
  }

 private:
  std::array<std::uint64_t, 4> s_{};
  double spare_ = 0.0;
  bool has_spare_ = false;
};

// The process-wide generator used when none is passed.
Generator& default_generator();
void manual_seed(std::uint64_t seed);

// Filled tensors (floating dtype).
Tensor rand_uniform(const Shape& shape, double lo, double hi, Generator& gen = default_generator(),
                    DType dtype = DType::f32);
Tensor randn(const Shape& shape, double mean = 0.0, double stddev = 1.0,
             Generator& gen = default_generator(), DType dtype = DType::f32);
// A random permutation of 0..n-1 (int32), Fisher-Yates.
Tensor randperm(std::int64_t n, Generator& gen = default_generator());

// Fan-in and fan-out of a weight: [out, in, k...] -> (in * prod k, out * prod k).
std::pair<double, double> fan_in_out(const Shape& weight_shape);

// In-place initialisers for weights (PyTorch's formulas).
//   kaiming_normal:  N(0, gain^2 / fan_in),         gain = sqrt(2) for ReLU
//   kaiming_uniform: U(-b, b), b = gain sqrt(3 / fan_in)
//   xavier_uniform:  U(-b, b), b = gain sqrt(6 / (fan_in + fan_out))
//   xavier_normal:   N(0, gain^2 2 / (fan_in + fan_out))
void kaiming_normal_(Tensor& w, double gain = 1.4142135623730951,
                     Generator& gen = default_generator());
void kaiming_uniform_(Tensor& w, double gain = 1.4142135623730951,
                      Generator& gen = default_generator());
void xavier_uniform_(Tensor& w, double gain = 1.0, Generator& gen = default_generator());
void xavier_normal_(Tensor& w, double gain = 1.0, Generator& gen = default_generator());

}  // namespace mpq
