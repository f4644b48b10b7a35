#include "quant/quantizer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "quant/composed.h"
#include "quant/quantize_pow2.h"
#include "quant/quantize_uniform.h"
#include "quant/ste.h"

namespace mpq::quant {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
using P = Parametrization;

double pow2_round(double v) {
  return std::exp2(std::round(std::log2(v)));
}
double clip(double v, Range r) {
  return std::min(std::max(v, r.lo), r.hi);
}
}  // namespace

double QuantizerValues::get(std::string_view name) const {
  if (name == "b") return b;
  if (name == "d") return d;
  if (name == "qmax") return qmax;
  if (name == "qmin") return qmin;
  MPQ_FAIL("QuantizerValues: unknown quantity '", name, "' (expected b, d, qmax or qmin)");
}

Quantizer::Quantizer(QuantizerSpec spec, double first, double second, DType dtype) : spec_(spec) {
  MPQ_CHECK(is_floating(dtype), "Quantizer: parameters must be float32 or float64");
  const auto names = raw_parameter_names(spec_.param);
  const double v[2] = {first, second};
  for (int i = 0; i < 2; ++i) {
    MPQ_CHECK(std::isfinite(v[i]), "Quantizer ", spec_.str(), ": ", names[i], " = ", v[i],
              " is not finite");
    raw_[i] = scalar_tensor(v[i], dtype);
    raw_[i].set_requires_grad(true);
  }
}

Quantizer Quantizer::for_weights(const QuantizerSpec& spec, const Tensor& w, double bits,
                                 DType dtype) {
  MPQ_CHECK(w.defined() && w.numel() > 0,
            "Quantizer::for_weights: needs a non-empty weight tensor");
  const QuantizerValues v = initial_values(spec, bits, w);
  const auto names = raw_parameter_names(spec.param);
  return Quantizer(spec, v.get(names[0]), v.get(names[1]), dtype);
}

Quantizer Quantizer::for_activations(const QuantizerSpec& spec, double bits, DType dtype) {
  const QuantizerValues v = initial_values(spec, bits, Tensor());
  const auto names = raw_parameter_names(spec.param);
  return Quantizer(spec, v.get(names[0]), v.get(names[1]), dtype);
}

int Quantizer::index(std::string_view name) const {
  const auto names = raw_parameter_names(spec_.param);
  for (int i = 0; i < 2; ++i)
    if (names[i] == name) return i;
  MPQ_FAIL("Quantizer ", spec_.str(), ": has no raw parameter '", name, "' (it trains ", names[0],
           " and ", names[1], ")");
}

const Tensor& Quantizer::raw(std::string_view name) const {
  return raw_[index(name)];
}

std::vector<Tensor> Quantizer::parameters() const {
  std::vector<Tensor> out;
  for (int i = 0; i < 2; ++i)
    if (trainable_[i]) out.push_back(raw_[i]);
  return out;
}

void Quantizer::to(Device device) {
  for (Tensor& r : raw_) r.move_to_(device);
}

void Quantizer::set_trainable(std::string_view name, bool on) {
  const int i = index(name);
  trainable_[i] = on;
  raw_[i].set_requires_grad(on);
}

bool Quantizer::trainable(std::string_view name) const {
  return trainable_[index(name)];
}

Tensor Quantizer::clipped(int i) const {
  const Range r = spec_.bounds(raw_parameter_names(spec_.param)[i]);
  return clamp(raw_[i], r.lo, r.hi);
}

Quantizer::Effective Quantizer::effective() const {
  const double sgn = spec_.is_signed ? 1.0 : 0.0, zero = spec_.with_zero ? 1.0 : 0.0;
  auto step = [&](const Tensor& v) { return spec_.pow2_step ? pow2_ste(v) : v; };
  Effective e;
  switch (spec_.param) {
    case P::U1: {
      const Tensor levels = add(exp2(add(round_ste(clipped(0)), -sgn)), -1.0);  // 2^n - 1
      e.d = step(clipped(1));
      e.qmax = mul(e.d, levels);
      break;
    }
    case P::U2: {
      const Tensor levels = add(exp2(add(round_ste(clipped(0)), -sgn)), -1.0);
      e.qmax = clipped(1);
      e.d = step(div(e.qmax, levels));
      break;
    }
    case P::U3:
      e.d = step(clipped(0));
      e.qmax = clipped(1);
      break;
    case P::P1: {
      const Tensor span = add(exp2(add(round_ste(clipped(0)), -sgn - zero)), -1.0);  // 2^n_e - 1
      e.qmax = pow2_ste(clipped(1));
      e.qmin = mul(e.qmax, exp2(neg(span)));
      break;
    }
    case P::P2: {
      const Tensor span = add(exp2(add(round_ste(clipped(0)), -sgn - zero)), -1.0);
      e.qmin = pow2_ste(clipped(1));
      e.qmax = mul(e.qmin, exp2(span));
      break;
    }
    case P::P3:
      e.qmin = pow2_ste(clipped(0));
      e.qmax = pow2_ste(clipped(1));
      break;
  }
  return e;
}

Tensor Quantizer::bitwidth() const {
  const DType dt = raw_[0].dtype();
  const double sgn = spec_.is_signed ? 1.0 : 0.0, zero = spec_.with_zero ? 1.0 : 0.0;
  // max(v, b_min) with no gradient when the floor is active.
  auto floor_at = [&](const Tensor& v, double b_min) {
    const Tensor m = full({}, b_min, dt, v.device());
    return where(gt(v, m), v, m);
  };
  switch (spec_.param) {
    case P::U1:
    case P::U2:
    case P::P1:
    case P::P2:
      return round_ste(clipped(0));
    case P::U3: {
      const Effective e = effective();
      const Tensor levels = round_ste(div(e.qmax, e.d));  // x_hat / d_q
      return floor_at(add(ceil_ste(log2(add(levels, 1.0))), sgn), 1.0 + sgn);
    }
    case P::P3: {
      const Effective e = effective();
      const Tensor octaves = log2(div(e.qmax, e.qmin));
      return floor_at(add(ceil_ste(log2(add(octaves, 1.0))), sgn + zero), spec_.b.lo);
    }
  }
  MPQ_FAIL("Quantizer::bitwidth: unknown parametrization");
}

QuantizerValues Quantizer::values() const {
  NoGradGuard ng;
  const Effective e = effective();
  return {bitwidth().item(), e.d.defined() ? e.d.item() : kNaN, e.qmax.item(),
          e.qmin.defined() ? e.qmin.item() : kNaN};
}

Tensor Quantizer::forward(const Tensor& x) const {
  const Effective e = effective();
  if (is_uniform(spec_.param))
    return quantize_uniform(x, e.d.to(x.dtype()), e.qmax.to(x.dtype()), spec_.is_signed);
  return quantize_pow2(x, e.qmin.to(x.dtype()), e.qmax.to(x.dtype()), spec_.is_signed,
                       spec_.with_zero);
}

Tensor Quantizer::forward_composed(const Tensor& x) const {
  const Effective e = effective();
  if (is_uniform(spec_.param))
    return quantize_uniform_composed(x, e.d.to(x.dtype()), e.qmax.to(x.dtype()), spec_.is_signed);
  return quantize_pow2_composed(x, e.qmin.to(x.dtype()), e.qmax.to(x.dtype()), spec_.is_signed,
                                spec_.with_zero);
}

void Quantizer::clip_parameters(double margin) {
  const auto names = raw_parameter_names(spec_.param);
  double v[2];
  for (int i = 0; i < 2; ++i) {
    const Range r = spec_.bounds(names[i]);
    v[i] = std::min(std::max(raw_[i].item(), r.lo + margin), r.hi - margin);
  }
  // U3 (d, q_max): d <= q_max - margin; P3 (q_min, q_max): q_min <= q_max - margin.
  if (spec_.param == P::U3 || spec_.param == P::P3) v[0] = std::min(v[0], v[1] - margin);
  for (int i = 0; i < 2; ++i) raw_[i].fill_(v[i]);
}

void Quantizer::clip_gradients() {
  if (spec_.param != P::U3 && spec_.param != P::P3) return;
  // U3: bound = d, P3: bound = q_min; both are the first raw parameter.
  const double bound = std::abs(raw_[0].item());
  for (int i = 0; i < 2; ++i) {
    Tensor g = raw_[i].grad();
    if (!g.defined()) continue;
    g.fill_(std::min(std::max(g.item(), -bound), bound));
  }
}

QuantizerValues initial_values(const QuantizerSpec& spec, double bits, const Tensor& w) {
  MPQ_CHECK(bits >= 1 && bits <= 32, "initial_values: bitwidth ", bits, " outside [1, 32]");
  const double sgn = spec.is_signed ? 1 : 0, zero = spec.with_zero ? 1 : 0;
  const double levels = std::exp2(bits - sgn) - 1;  // 2^(b-1) - 1 signed, 2^b - 1 unsigned
  double d, qmax;
  if (w.defined()) {
    NoGradGuard ng;
    const double m = max(abs(w.detach())).item();
    // d = 2^floor(log2(max|W| / levels)), ceil instead of floor above 4 bits.
    const double e = m > 0 ? std::log2(m / levels) : std::log2(spec.d.lo);
    d = std::exp2(bits > 4 ? std::ceil(e) : std::floor(e));
  } else {
    d = 0x1p-3;
  }
  d = clip(d, spec.d);
  qmax = levels * d;
  double qmax_p2, qmin_p2;
  {
    // Power of two: q_max = pow2(max|W|) for weights, pow2 of the uniform range
    // for activations; q_min follows from b.
    const double top = w.defined() ? max(abs(w.detach())).item() : qmax;
    qmax_p2 = clip(pow2_round(top > 0 ? top : spec.qmax.lo), spec.qmax);
    const double n_eff = std::round(bits) - sgn - zero;
    qmin_p2 = clip(qmax_p2 * std::exp2(-(std::exp2(n_eff) - 1)), spec.qmin);
  }
  if (is_uniform(spec.param)) return {clip(bits, spec.b), d, clip(qmax, spec.qmax), kNaN};
  return {clip(bits, spec.b), kNaN, qmax_p2, qmin_p2};
}

namespace {
Quantizer baseline(QuantizerSpec spec, double bits, const Tensor& w, DType dtype, bool learn_qmax) {
  const QuantizerValues v = initial_values(spec, bits, w);
  if (is_uniform(spec.param)) {
    spec.param = learn_qmax ? P::U2 : P::U1;
    Quantizer q(spec, v.b, learn_qmax ? v.qmax : v.d, dtype);
    q.set_trainable("b", false);
    if (!learn_qmax) q.set_trainable("d", false);
    return q;
  }
  spec.param = P::P1;
  Quantizer q(spec, v.b, v.qmax, dtype);
  q.set_trainable("b", false);
  if (!learn_qmax) q.set_trainable("qmax", false);
  return q;
}
}  // namespace

Quantizer make_fixed_quantizer(const QuantizerSpec& spec, double bits, const Tensor& w,
                               DType dtype) {
  return baseline(spec, bits, w, dtype, false);
}

Quantizer make_learn_qmax_quantizer(const QuantizerSpec& spec, double bits, const Tensor& w,
                                    DType dtype) {
  return baseline(spec, bits, w, dtype, true);
}

}  // namespace mpq::quant
