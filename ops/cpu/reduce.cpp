// CPU reduction kernels over the last axis of a contiguous [outer, inner]
// matrix; the op layer permutes the reduced axes to the end first.
#include "core/backend.h"
#include "core/tensor.h"

#include "core/parallel.h"

namespace mpq::cpu {

void sum_rows(const Tensor& x, std::int64_t outer, std::int64_t inner, double scale,
              const Tensor& out) {
  dispatch_floating(x.dtype(), "sum", [&]<class T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    if (outer >= num_threads() || inner < 65536) {
      parallel_for(0, outer, inner >= 4096 ? 1 : 4096 / (inner + 1) + 1,
                   [&](std::int64_t b, std::int64_t e) {
                     for (std::int64_t i = b; i < e; ++i) {
                       const T* row = px + i * inner;
                       double acc = 0;
                       for (std::int64_t j = 0; j < inner; ++j) acc += row[j];
                       po[i] = static_cast<T>(acc * scale);
                     }
                   });
      return;
    }
    // Few long rows: split each row across threads, then add the partials in
    // a fixed order so the result does not depend on scheduling.
    for (std::int64_t i = 0; i < outer; ++i) {
      const T* row = px + i * inner;
      const int nt = num_threads();
      std::vector<double> partial(nt, 0.0);
      const std::int64_t chunk = (inner + nt - 1) / nt;
      parallel_for(0, nt, 0, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t t = b; t < e; ++t) {
          double acc = 0;
          const std::int64_t lo = t * chunk, hi = std::min(inner, lo + chunk);
          for (std::int64_t j = lo; j < hi; ++j) acc += row[j];
          partial[t] = acc;
        }
      });
      double acc = 0;
      for (double p : partial) acc += p;
      po[i] = static_cast<T>(acc * scale);
    }
  });
}

void max_rows(const Tensor& x, std::int64_t outer, std::int64_t inner, const Tensor& out,
              const Tensor& index) {
  dispatch_floating(x.dtype(), "max", [&]<class T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    std::int32_t* pi = index.defined() ? index.data<std::int32_t>() : nullptr;
    parallel_for(0, outer, inner >= 4096 ? 1 : 4096 / (inner + 1) + 1,
                 [&](std::int64_t b, std::int64_t e) {
                   for (std::int64_t i = b; i < e; ++i) {
                     const T* row = px + i * inner;
                     std::int64_t best = 0;
                     // A NaN wins and stays, as in max_pool2d and PyTorch.
                     for (std::int64_t j = 1; j < inner && row[best] == row[best]; ++j)
                       if (row[j] > row[best] || row[j] != row[j]) best = j;
                     po[i] = row[best];
                     if (pi) pi[i] = static_cast<std::int32_t>(best);
                   }
                 });
  });
}

void scatter_rows(const Tensor& g, const Tensor& index, std::int64_t outer, std::int64_t inner,
                  const Tensor& grad) {
  dispatch_floating(g.dtype(), "max backward", [&]<class T>() {
    T* dst = grad.data<T>();
    const T* src = g.data<T>();
    const std::int32_t* idx = index.data<std::int32_t>();
    for (std::int64_t i = 0; i < outer; ++i) dst[i * inner + idx[i]] = src[i];
  });
}

namespace {
const BackendRegistration registration(DeviceType::cpu, [](Backend& b) {
  b.sum_rows = sum_rows;
  b.max_rows = max_rows;
  b.scatter_rows = scatter_rows;
});
}  // namespace

}  // namespace mpq::cpu
