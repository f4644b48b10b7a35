// CPU kernel of the fused softmax cross-entropy; rows are independent.
#include "core/backend.h"
#include "core/tensor.h"

#include <cmath>
#include <vector>

#include "core/parallel.h"

namespace mpq::cpu {

void cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor& probs,
                           const Tensor& loss) {
  const std::int64_t N = logits.shape()[0], K = logits.shape()[1];
  dispatch_floating(logits.dtype(), "cross_entropy", [&]<class T>() {
    const T* z = logits.data<T>();
    const std::int32_t* y = labels.data<std::int32_t>();
    T* p = probs.data<T>();
    std::vector<double> row_loss(N);
    parallel_for(0, N, 64, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t n = b; n < e; ++n) {
        const T* zr = z + n * K;
        T* pr = p + n * K;
        T m = zr[0];
        for (std::int64_t k = 1; k < K; ++k) m = zr[k] > m ? zr[k] : m;
        double s = 0;
        for (std::int64_t k = 0; k < K; ++k) {
          pr[k] = std::exp(zr[k] - m);
          s += pr[k];
        }
        const T inv = static_cast<T>(1.0 / s);
        for (std::int64_t k = 0; k < K; ++k) pr[k] *= inv;
        // -log p_y = log(s) - (z_y - m)
        row_loss[n] = std::log(s) - static_cast<double>(zr[y[n]] - m);
      }
    });
    double total = 0;  // fixed order: the loss does not depend on threading
    for (double l : row_loss) total += l;
    *loss.data<T>() = static_cast<T>(total / static_cast<double>(N));
  });
}

void cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor& g,
                            const Tensor& dz) {
  const std::int64_t N = probs.shape()[0], K = probs.shape()[1];
  const double scale = g.item() / static_cast<double>(N);
  dispatch_floating(probs.dtype(), "cross_entropy backward", [&]<class T>() {
    const T* p = probs.data<T>();
    const std::int32_t* y = labels.data<std::int32_t>();
    T* d = dz.data<T>();
    const T s = static_cast<T>(scale);
    parallel_for(0, N, 64, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t n = b; n < e; ++n) {
        for (std::int64_t k = 0; k < K; ++k) d[n * K + k] = s * p[n * K + k];
        d[n * K + y[n]] -= s;
      }
    });
  });
}

namespace {
const BackendRegistration registration(DeviceType::cpu, [](Backend& b) {
  b.cross_entropy_forward = cross_entropy_forward;
  b.cross_entropy_backward = cross_entropy_backward;
});
}  // namespace

}  // namespace mpq::cpu
