// Quantizers, forward + backward, as a training step runs them:
//  - quantizer/<P>_<act|wt>_<shape>: quant::Quantizer (quant/quantizer.h) of
//    each parametrization P in U1 U2 U3 P1 P2 P3 at the paper's 4-bit
//    initialisation, on a ResNet-20 activation [128, 16, 32, 32] (unsigned
//    activation quantizer, channels-last as conv2d produces it) and on a
//    ResNet-20 weight [64, 64, 3, 3] (signed weight quantizer). One call:
//    q = Q(x) on a leaf x that requires a gradient, then q.backward(g), which
//    yields dL/dx and the gradients of both raw parameters through the
//    parametrization's scalar chain (autograd).
//  - quantize_uniform/<act|wt>_<shape>, quantize_pow2/<act|wt>_<shape>: the
//    fused ops alone (quant/quantize_uniform.h, quant/quantize_pow2.h) on the
//    same tensors, with fixed effective parameters as leaf scalars.
//
// Bandwidth: compulsory traffic of one call, 20 bytes per element: forward
// reads x and writes q, backward reads g and x and writes dL/dx (the scalar
// parameters are negligible). Reported as bytes_per_second.
//
// Checks, before timing:
//  - the fused ops against the formulas of their headers written out below
//    in float64 (q, dL/dx elementwise; the parameter gradients as sums, to
//    rtol 1e-4 of the sum of |terms|);
//  - the Quantizer against the same quantizer evaluated in float64 by the
//    composed straight-through oracle (quant/composed.h: ordinary ops and
//    autograd, no fused kernel) with the same raw parameter values: q and
//    dL/dx elementwise to rtol 1e-6 (both are exact up to a rounding of the
//    float32 step), the raw parameters' gradients to rtol 1e-4 of their value
//    plus 1e-6 sum |g|: each element contributes |g| times a derivative of
//    order 1 (the parametrization's chain factor), rounded in float32 to
//    ~6e-8 relative, so the sum's rounding stays far below 1e-6 sum |g|.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bench/check.h"
#include "bench/harness.h"
#include "bench/tensor_access.h"
#include "core/rng.h"
#include "quant/quantize_pow2.h"
#include "quant/quantize_uniform.h"
#include "quant/quantizer.h"
#include "quant/spec.h"

namespace {

using namespace mpq;
using namespace mpq::bench;
using quant::Parametrization;

constexpr double kRtolSum = 1e-4, kRtolElem = 1e-6, kAtolPerUpstream = 1e-6;
constexpr std::int64_t kBytesPerElement = 20;

// The two tensors a quantizer sees in ResNet-20.
enum class Target { activation, weight };

const char* target_tag(Target t) {
  return t == Target::activation ? "act_N128_C16_H32" : "wt_O64_C64_K3";
}

// x and the upstream gradient g, in the layout a network hands them over:
// activations N(0, 1) channels-last (a batch-norm output), weights
// Kaiming-scaled N(0, 2 / fan_in) contiguous OIHW. g ~ N(0.25, 1): a non-zero
// mean makes the parameter gradients (sums over ~10^6 elements) large against
// their rounding noise.
struct Inputs {
  Tensor x, g;
};
Inputs make_inputs(Target target, Generator& gen) {
  Inputs in;
  if (target == Target::activation) {
    const Shape s{128, 16, 32, 32};
    in.x = randn_in(s, Layout::nhwc, 0, 1, gen);
    in.g = randn_in(s, Layout::nhwc, 0.25, 1, gen);
  } else {
    const Shape s{64, 64, 3, 3};
    in.x = randn(s, 0, std::sqrt(2.0 / (64 * 9)), gen);
    in.g = randn(s, 0.25, 1, gen);
  }
  // A leaf that requires a gradient, as an activation or a weight in training.
  in.x.set_requires_grad(true);
  return in;
}

double sum_abs(const std::vector<double>& v) {
  double s = 0;
  for (double e : v) s += std::abs(e);
  return s;
}

// ---- the fused ops alone ----------------------------------------------------

enum class FusedOp { uniform, pow2 };

// Effective parameters at 4 bits:
//   uniform, activation (unsigned): d = 2^-3, q_max = 15 d = 1.875 (the paper's init)
//   uniform, weight (signed):       d = 2^-5, q_max = 0.25 (7 levels a side, max|w| ~ 0.3)
//   pow2, activation (unsigned, with zero): 2^3 - 1 = 7 octaves below q_max = 2
//   pow2, weight (signed, no zero):          7 octaves below q_max = 0.25
struct FusedParams {
  double first, qmax;  // first = d (uniform) or q_min (pow2)
  bool is_signed, with_zero;
};
FusedParams fused_params(FusedOp op, Target target) {
  const bool act = target == Target::activation;
  if (op == FusedOp::uniform)
    return act ? FusedParams{0x1p-3, 1.875, false, false} : FusedParams{0x1p-5, 0.25, true, false};
  return act ? FusedParams{0x1p-6, 2.0, false, true} : FusedParams{0x1p-9, 0.25, true, false};
}

struct FusedCase : CheckedCase {
  Inputs in;
  Tensor first, qmax;  // leaf scalars that require gradients
  FusedParams prm{};
};

// One timed call: fresh gradients, q = Q(x), backward from g. Returns q.
Tensor step_fused(FusedOp op, const FusedCase& k) {
  k.in.x.set_grad(Tensor());
  k.first.set_grad(Tensor());
  k.qmax.set_grad(Tensor());
  const Tensor q =
      op == FusedOp::uniform
          ? quant::quantize_uniform(k.in.x, k.first, k.qmax, k.prm.is_signed)
          : quant::quantize_pow2(k.in.x, k.first, k.qmax, k.prm.is_signed, k.prm.with_zero);
  q.backward(k.in.g);
  return q;
}

// One element of Q_U and its straight-through derivatives
// (quant/quantize_uniform.h): c = clip(x, lo, q_max), q = d round(c / d)
// (round half away from zero), dq/dx = [lo <= x <= q_max],
// dq/dd = round(c/d) - c/d, dq/dq_max = +1 above q_max, -1 below -q_max (signed).
struct ElementGrad {
  double q, dx, dfirst, dqmax;
};
ElementGrad uniform_element(double x, const FusedParams& p) {
  const double d = p.first, hi = p.qmax, lo = p.is_signed ? -hi : 0.0;
  const double c = std::min(std::max(x, lo), hi), v = c / d;
  ElementGrad e{d * std::round(v), (x >= lo && x <= hi) ? 1.0 : 0.0, std::round(v) - v, 0.0};
  if (x > hi) e.dqmax = 1;
  if (p.is_signed && x < lo) e.dqmax = -1;
  return e;
}

// One element of Q_P (quant/quantize_pow2.h): v = x (signed) or relu(x),
// a = |v|, s = sign(v) (+1 at 0); zero below q_min / sqrt(2) with the zero
// level, s q_min below q_min, s q_max from q_max on, s 2^round(log2 a) between
// with dq/dx = 2^round(log2 a) / a; dq/dq_min = s, dq/dq_max = s in their regions.
ElementGrad pow2_element(double x, const FusedParams& p) {
  const double v = p.is_signed ? x : std::max(x, 0.0), s = v >= 0 ? 1.0 : -1.0, a = std::abs(v);
  if (p.with_zero && a < p.first / std::sqrt(2.0)) return {0, 0, 0, 0};
  if (a < p.first) return {s * p.first, 0, s, 0};
  if (a >= p.qmax) return {s * p.qmax, 0, 0, s};
  const double level = std::exp2(std::round(std::log2(a)));
  return {s * level, level / a, 0, 0};
}

std::string check_fused(FusedOp op, const FusedCase& k, const Tensor& q) {
  const auto x = k.in.x.to_vector<double>(), g = k.in.g.to_vector<double>();
  const auto qv = q.to_vector<double>(), dx = k.in.x.grad().to_vector<double>();
  const std::string what = op == FusedOp::uniform ? "quantize_uniform" : "quantize_pow2";
  Comparison c_q(what + " q", kRtolElem), c_dx(what + " dL/dx", kRtolElem);
  double gf = 0, gq = 0, sf = 0, sq = 0;  // parameter gradients and their sum |terms|
  for (std::size_t i = 0; i < x.size(); ++i) {
    const ElementGrad e =
        op == FusedOp::uniform ? uniform_element(x[i], k.prm) : pow2_element(x[i], k.prm);
    c_q.add(static_cast<std::int64_t>(i), qv[i], e.q, std::abs(e.q));
    c_dx.add(static_cast<std::int64_t>(i), dx[i], g[i] * e.dx, std::abs(g[i] * e.dx));
    gf += g[i] * e.dfirst;
    sf += std::abs(g[i] * e.dfirst);
    gq += g[i] * e.dqmax;
    sq += std::abs(g[i] * e.dqmax);
  }
  Comparison c_p(what + (op == FusedOp::uniform ? " dL/dd, dL/dq_max" : " dL/dq_min, dL/dq_max"),
                 kRtolSum);
  c_p.add(0, k.first.grad().item(), gf, sf);
  c_p.add(1, k.qmax.grad().item(), gq, sq);
  for (const Comparison* c : {&c_q, &c_dx, &c_p})
    if (!c->ok()) return c->message();
  return {};
}

FusedCase make_fused_case(FusedOp op, Target target) {
  Generator gen(0x9a);
  FusedCase k;
  k.in = make_inputs(target, gen);
  k.prm = fused_params(op, target);
  k.first = scalar_tensor(k.prm.first);
  k.qmax = scalar_tensor(k.prm.qmax);
  k.first.set_requires_grad(true);
  k.qmax.set_requires_grad(true);
  // The checked call is the timed one, with q kept for the comparison.
  const Tensor q = step_fused(op, k);
  k.check_error = check_fused(op, k, q);
  return k;
}

// ---- the Quantizer with its parametrization ----------------------------------

struct QuantizerCase : CheckedCase {
  Inputs in;
  quant::Quantizer qz;
  explicit QuantizerCase(quant::Quantizer q) : qz(std::move(q)) {}
  QuantizerCase() : qz(quant::QuantizerSpec{}, 0.125, 1.0) {}  // placeholder for failures
};

// One timed call: fresh gradients, q = Q(x), backward from g. Returns q.
Tensor step_quantizer(const QuantizerCase& k) {
  k.in.x.set_grad(Tensor());
  for (const auto name : quant::raw_parameter_names(k.qz.spec().param))
    k.qz.raw(name).set_grad(Tensor());
  const Tensor q = k.qz.forward(k.in.x);
  q.backward(k.in.g);
  return q;
}

std::string check_quantizer(const QuantizerCase& k, const Tensor& q) {
  const auto names = quant::raw_parameter_names(k.qz.spec().param);
  // The same quantizer in float64 from the same raw values, run through the
  // composed oracle on float64 copies of the same inputs.
  const quant::Quantizer ref(k.qz.spec(), k.qz.raw(names[0]).item(), k.qz.raw(names[1]).item(),
                             DType::f64);
  Tensor x64 = k.in.x.detach().to(DType::f64);
  x64.set_requires_grad(true);
  const Tensor q64 = ref.forward_composed(x64);
  q64.backward(k.in.g.detach().to(DType::f64));

  const std::string what = std::string("quantizer ") + k.qz.spec().str();
  const auto qv = q.to_vector<double>(), qr = q64.to_vector<double>();
  const auto dx = k.in.x.grad().to_vector<double>(), dxr = x64.grad().to_vector<double>();
  Comparison c_q(what + " q", kRtolElem), c_dx(what + " dL/dx", kRtolElem);
  for (std::size_t i = 0; i < qv.size(); ++i) {
    c_q.add(static_cast<std::int64_t>(i), qv[i], qr[i], std::abs(qr[i]));
    c_dx.add(static_cast<std::int64_t>(i), dx[i], dxr[i], std::abs(dxr[i]));
  }
  const double atol = kAtolPerUpstream * sum_abs(k.in.g.to_vector<double>());
  Comparison c_p(what + " raw parameter gradients (" + std::string(names[0]) + ", " +
                     std::string(names[1]) + ")",
                 kRtolSum, atol);
  for (int j = 0; j < 2; ++j) {
    const double ref_grad = ref.raw(names[j]).grad().item();
    c_p.add(j, k.qz.raw(names[j]).grad().item(), ref_grad, std::abs(ref_grad));
  }
  for (const Comparison* c : {&c_q, &c_dx, &c_p})
    if (!c->ok()) return c->message();
  return {};
}

QuantizerCase make_quantizer_case(Parametrization p, Target target) {
  Generator gen(0x9b);
  Inputs in = make_inputs(target, gen);
  // The paper's initialisation at 4 bits: from max|w| for weights, d = 2^-3
  // and q_max = 15 d for activations.
  QuantizerCase k(
      target == Target::activation
          ? quant::Quantizer::for_activations(quant::QuantizerSpec::activations(p))
          : quant::Quantizer::for_weights(quant::QuantizerSpec::weights(p), in.x.detach()));
  k.in = std::move(in);
  const Tensor q = step_quantizer(k);
  k.check_error = check_quantizer(k, q);
  return k;
}

// ---- registration -------------------------------------------------------------

double bytes_per_call(const Inputs& in) {
  return static_cast<double>(kBytesPerElement * in.x.numel());
}

void bm_fused(benchmark::State& state, const std::string& name, FusedOp op, Target target) {
  FusedCase* k = prepare<FusedCase>(state, name, [&] { return make_fused_case(op, target); });
  if (!k) return;
  const Timing t = timed_loop(state, name, [&] { step_fused(op, *k); });
  set_byte_counters(state, t, bytes_per_call(k->in));
}

void bm_quantizer(benchmark::State& state, const std::string& name, Parametrization p,
                  Target target) {
  QuantizerCase* k =
      prepare<QuantizerCase>(state, name, [&] { return make_quantizer_case(p, target); });
  if (!k) return;
  const Timing t = timed_loop(state, name, [&] { step_quantizer(*k); });
  set_byte_counters(state, t, bytes_per_call(k->in));
}

const bool registered = [] {
  for (Target target : {Target::activation, Target::weight}) {
    for (FusedOp op : {FusedOp::uniform, FusedOp::pow2}) {
      const std::string name =
          std::string(op == FusedOp::uniform ? "quantize_uniform/" : "quantize_pow2/") +
          target_tag(target);
      benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
        bm_fused(state, name, op, target);
      })->Unit(benchmark::kMicrosecond);
    }
    for (int i = 0; i < 6; ++i) {
      const auto p = static_cast<Parametrization>(i);
      const std::string name =
          "quantizer/" + std::string(quant::parametrization_name(p)) + "_" + target_tag(target);
      benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
        bm_quantizer(state, name, p, target);
      })->Unit(benchmark::kMicrosecond);
    }
  }
  return true;
}();

}  // namespace
