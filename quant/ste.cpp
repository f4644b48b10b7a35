#include "quant/ste.h"

#include <cmath>
#include <numbers>

#include "core/autograd.h"
#include "ops/cuda/elementwise.h"
#include "ops/elementwise.h"

namespace mpq::quant {

namespace {
// out[i] = f(x[i]) on a contiguous copy of x (these ops see scalars and small
// tensors; the fused quantizers do the heavy lifting). On a GPU the same
// formula runs as the elementwise kind `kind` (computed in double there too),
// so the quantizers' parameters never leave the device.
template <class F>
Tensor map(const Tensor& x, const char* op, UnaryOp kind, F f) {
  const Tensor c = x.detach().contiguous();
  Tensor out = empty_like(c);
  if (!c.device().is_cpu()) {
    MPQ_CHECK(is_floating(c.dtype()), op, ": expected a floating tensor, got ",
              dtype_name(c.dtype()));
    ::mpq::cuda::unary(kind, c, out);
    return out;
  }
  dispatch_floating(c.dtype(), op, [&]<class T>() {
    const T* p = c.data<T>();
    T* o = out.data<T>();
    for (std::int64_t i = 0; i < c.numel(); ++i)
      o[i] = static_cast<T>(f(static_cast<double>(p[i])));
  });
  return out;
}
}  // namespace

Tensor round_ste(const Tensor& x) {
  Tensor out = map(x, "round_ste", UnaryOp::round, [](double v) { return std::round(v); });
  return record("round_ste", out, {&x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor ceil_ste(const Tensor& x) {
  Tensor out = map(x, "ceil_ste", UnaryOp::ceil, [](double v) { return std::ceil(v); });
  return record("ceil_ste", out, {&x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor pow2_ste(const Tensor& v) {
  Tensor out = map(v, "pow2_ste", UnaryOp::pow2_round, [](double a) {
    MPQ_CHECK(a > 0, "pow2_ste: expected a positive value, got ", a);
    return std::exp2(std::round(std::log2(a)));
  });
  const Tensor od = out.detach(), vd = v.detach();
  return record("pow2_ste", out, {&v},
                [od, vd](const Tensor& g) { return std::vector<Tensor>{mul(g, div(od, vd))}; });
}

Tensor exp2(const Tensor& x) {
  Tensor out = map(x, "exp2", UnaryOp::exp2, [](double v) { return std::exp2(v); });
  const Tensor od = out.detach();
  return record("exp2", out, {&x}, [od](const Tensor& g) {
    return std::vector<Tensor>{mul(mul(g, od), std::numbers::ln2)};
  });
}

Tensor log2(const Tensor& x) {
  Tensor out = map(x, "log2", UnaryOp::log2, [](double v) { return std::log2(v); });
  const Tensor xd = x.detach();
  return record("log2", out, {&x}, [xd](const Tensor& g) {
    return std::vector<Tensor>{div(g, mul(xd, std::numbers::ln2))};
  });
}

}  // namespace mpq::quant
