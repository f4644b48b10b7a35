// A learnable quantizer: raw scalar parameters, the effective parameters the
// parametrization derives from them, the fused quantizer op, the inferred
// bitwidth, and the paper's initialisation and clipping rules.
//
// Effective parameters (docs/method.md section 2; raw values are first clipped into their
// bounds with clamp, which gives a raw parameter outside its bounds zero
// gradient; round/ceil/pow2 are straight-through, quant/ste.h):
//   n  = round(b) - 1 (signed) or round(b) (unsigned)            [U1, U2]
//   U1: d_q = pow2(d),                 q_max = d_q (2^n - 1)
//   U2: d_q = pow2(q_max / (2^n - 1)), q_max = clip(q_max)
//   U3: d_q = pow2(d),                 q_max = clip(q_max)
//   n_e = round(b) - [signed] - [with zero]                      [P1, P2]
//   P1: q_max = pow2(q_max),  q_min = q_max 2^-(2^n_e - 1)
//   P2: q_min = pow2(q_min),  q_max = q_min 2^(2^n_e - 1)
//   P3: q_min = pow2(q_min),  q_max = pow2(q_max)
// With spec.pow2_step off, uniform d_q is the real value instead of pow2(.).
// Bitwidth:
//   U1, U2, P1, P2: round(clip(b))
//   U3: b = max(ceil(log2(round(q_max/d_q) + 1)) + [signed], 1 + [signed])
//   P3: b = max(ceil(log2(log2(q_max/q_min) + 1)) + [signed] + [with zero], b_min)
// where max(., b_min) passes no gradient when it is at b_min.
#pragma once

#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "quant/spec.h"

namespace mpq::quant {

// Plain values of the four quantities (NaN where a parametrization has none).
struct QuantizerValues {
  double b, d, qmax, qmin;
  // The value called `name` ("b", "d", "qmax" or "qmin").
  double get(std::string_view name) const;
};

class Quantizer {
 public:
  // first/second are the raw values of raw_parameter_names(spec.param), in order.
  Quantizer(QuantizerSpec spec, double first, double second, DType dtype = DType::f32);
  // The paper's initialisation at `bits` (4 in the paper): from max|w| for a
  // weight tensor, d = 2^-3 and q_max = d (2^b - 1) for activations.
  static Quantizer for_weights(const QuantizerSpec& spec, const Tensor& w, double bits = 4,
                               DType dtype = DType::f32);
  static Quantizer for_activations(const QuantizerSpec& spec, double bits = 4,
                                   DType dtype = DType::f32);

  const QuantizerSpec& spec() const { return spec_; }
  // The raw parameter `name` (one of raw_parameter_names(spec().param)).
  const Tensor& raw(std::string_view name) const;
  // Raw parameters that are trained (all by default).
  std::vector<Tensor> parameters() const;
  void set_trainable(std::string_view name, bool trainable);
  bool trainable(std::string_view name) const;
  // Moves both raw parameters, trained or frozen, to `device` in place: the
  // Tensor handles stay the same, so an optimizer or module that holds them
  // sees the moved data.
  void to(Device device);
  Device device() const { return raw_[0].device(); }

  // Effective parameters as differentiable scalars (undefined where n/a).
  struct Effective {
    Tensor d, qmax, qmin;
  };
  Effective effective() const;
  Tensor bitwidth() const;
  QuantizerValues values() const;

  // Q(x) with the fused kernel; Q(x) composed from ordinary ops (test oracle).
  Tensor forward(const Tensor& x) const;
  Tensor forward_composed(const Tensor& x) const;

  // After every update: raw parameters into [lo + margin, hi - margin];
  // U3 keeps d <= q_max - margin, P3 keeps q_min <= q_max - margin.
  void clip_parameters(double margin = 1e-5);
  // Before the update when a memory target is set: U3 clips the gradients of
  // d and q_max to [-d, d], P3 those of q_min and q_max to [-q_min, q_min].
  void clip_gradients();

 private:
  int index(std::string_view name) const;
  Tensor clipped(int i) const;
  QuantizerSpec spec_;
  Tensor raw_[2];
  bool trainable_[2] = {true, true};
};

// The initial values of all four quantities under the paper's rules (b =
// bits; w undefined means an activation quantizer), clipped into the bounds.
QuantizerValues initial_values(const QuantizerSpec& spec, double bits, const Tensor& w);

// The paper's baselines. Uniform: a U1 (fixed) or U2 (learn q_max only)
// quantizer with b frozen at `bits`; power of two: P1 with b frozen. A fixed
// quantizer trains nothing. spec.param only selects uniform or power of two.
Quantizer make_fixed_quantizer(const QuantizerSpec& spec, double bits, const Tensor& w = Tensor(),
                               DType dtype = DType::f32);
Quantizer make_learn_qmax_quantizer(const QuantizerSpec& spec, double bits,
                                    const Tensor& w = Tensor(), DType dtype = DType::f32);

}  // namespace mpq::quant
