#include "quant/ste.h"

#include <cmath>
#include <numbers>

#include "core/autograd.h"
#include "ops/elementwise.h"

namespace mpq::quant {

namespace {
// out[i] = f(x[i]) on a contiguous copy of x (these ops see scalars and small
// tensors; the fused quantizers do the heavy lifting).
template <class F>
Tensor map(const Tensor& x, const char* op, F f) {
  const Tensor c = x.detach().contiguous();
  Tensor out = empty_like(c);
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
  Tensor out = map(x, "round_ste", [](double v) { return std::round(v); });
  return record("round_ste", out, {&x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor ceil_ste(const Tensor& x) {
  Tensor out = map(x, "ceil_ste", [](double v) { return std::ceil(v); });
  return record("ceil_ste", out, {&x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor pow2_ste(const Tensor& v) {
  Tensor out = map(v, "pow2_ste", [](double a) {
    MPQ_CHECK(a > 0, "pow2_ste: expected a positive value, got ", a);
    return std::exp2(std::round(std::log2(a)));
  });
  const Tensor od = out.detach(), vd = v.detach();
  return record("pow2_ste", out, {&v},
                [od, vd](const Tensor& g) { return std::vector<Tensor>{mul(g, div(od, vd))}; });
}

Tensor exp2(const Tensor& x) {
  Tensor out = map(x, "exp2", [](double v) { return std::exp2(v); });
  const Tensor od = out.detach();
  return record("exp2", out, {&x}, [od](const Tensor& g) {
    return std::vector<Tensor>{mul(mul(g, od), std::numbers::ln2)};
  });
}

Tensor log2(const Tensor& x) {
  Tensor out = map(x, "log2", [](double v) { return std::log2(v); });
  const Tensor xd = x.detach();
  return record("log2", out, {&x}, [xd](const Tensor& g) {
    return std::vector<Tensor>{div(g, mul(xd, std::numbers::ln2))};
  });
}

}  // namespace mpq::quant
