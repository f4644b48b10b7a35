// CPU loops of the optimizer updates (the backend table's sgd_update and
// adam_update; core/backend.h has the formulas, train/optimizer.h their
// meaning; train/cuda/optimizer.cu is the CUDA side). One fused pass per
// parameter over p, g and the state, which share p's layout. SGD computes in
// the parameter's dtype, Adam in double.
#include <cmath>

#include "core/backend.h"
#include "core/parallel.h"
#include "core/tensor.h"

namespace mpq::train::cpu {
namespace {

void sgd_update(const Tensor& p, const Tensor& g, const Tensor& v, bool first, double lr,
                double momentum, double l2, double shrink, bool nesterov) {
  dispatch_floating(p.dtype(), "Sgd::step", [&]<class T>() {
    T* pp = p.data<T>();
    const T* pg = g.data<T>();
    T* pv = v.defined() ? v.data<T>() : nullptr;
    const T tlr = static_cast<T>(lr), tm = static_cast<T>(momentum), tl2 = static_cast<T>(l2),
            tshrink = static_cast<T>(shrink);
    parallel_for(0, p.numel(), 16384, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        T d = pg[i] + tl2 * pp[i];
        if (pv) {
          pv[i] = first ? d : tm * pv[i] + d;
          d = nesterov ? d + tm * pv[i] : pv[i];
        }
        pp[i] = tshrink * pp[i] - tlr * d;
      }
    });
  });
}

void adam_update(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, double b1,
                 double b2, double eps, double c1, double c2, double lr, double l2, double shrink) {
  dispatch_floating(p.dtype(), "Adam::step", [&]<class T>() {
    T* pp = p.data<T>();
    const T* pg = g.data<T>();
    T* pm = m.data<T>();
    T* pv = v.data<T>();
    parallel_for(0, p.numel(), 16384, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        const double gi = pg[i] + l2 * pp[i];
        pm[i] = static_cast<T>(b1 * pm[i] + (1 - b1) * gi);
        pv[i] = static_cast<T>(b2 * pv[i] + (1 - b2) * gi * gi);
        const double update = (pm[i] / c1) / (std::sqrt(pv[i] / c2) + eps);
        pp[i] = static_cast<T>(shrink * pp[i] - lr * update);
      }
    });
  });
}

const BackendRegistration registration(DeviceType::cpu, [](Backend& b) {
  b.sgd_update = sgd_update;
  b.adam_update = adam_update;
});

}  // namespace
}  // namespace mpq::train::cpu
