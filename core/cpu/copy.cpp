// The CPU's element copy and fill (the backend table's copy_elements and
// fill): strided loops over any dtypes; a dense block in one layout is one
// memcpy. The CUDA versions are core/cuda/copy.cu.
#include <array>
#include <cstring>

#include "core/backend.h"
#include "core/layout.h"
#include "core/strided_loop.h"
#include "core/tensor.h"

namespace mpq::cpu {
namespace {

void copy_elements(const Tensor& dst, const Tensor& src) {
  if (dst.dtype() == src.dtype() && same_layout(dst, src) && is_dense(dst)) {
    // One dense block in the same layout (row-major, channels-last, ...).
    if (dst.raw_data() != src.raw_data())
      std::memcpy(dst.raw_data(), src.raw_data(), dst.numel() * dtype_size(dst.dtype()));
    return;
  }
  dispatch_all(dst.dtype(), [&]<class D>() {
    dispatch_all(src.dtype(), [&]<class S>() {
      D* d = dst.data<D>();
      const S* s = src.data<S>();
      strided_loop<2>(dst.shape(), {dst.strides(), src.strides()},
                      [&](const std::array<std::int64_t, 2>& off, std::int64_t n,
                          const std::array<std::int64_t, 2>& st) {
                        D* dp = d + off[0];
                        const S* sp = s + off[1];
                        if (st[0] == 1 && st[1] == 1) {
#pragma omp simd
                          for (std::int64_t i = 0; i < n; ++i) dp[i] = static_cast<D>(sp[i]);
                        } else {
                          for (std::int64_t i = 0; i < n; ++i)
                            dp[i * st[0]] = static_cast<D>(sp[i * st[1]]);
                        }
                      });
    });
  });
}

void fill(const Tensor& dst, double value) {
  dispatch_all(dst.dtype(), [&]<class T>() {
    const T v = static_cast<T>(value);
    T* base = dst.data<T>();
    strided_loop<1>(dst.shape(), {dst.strides()},
                    [&](const std::array<std::int64_t, 1>& off, std::int64_t n,
                        const std::array<std::int64_t, 1>& st) {
                      T* p = base + off[0];
                      for (std::int64_t i = 0; i < n; ++i) p[i * st[0]] = v;
                    });
  });
}

const BackendRegistration registration(DeviceType::cpu, [](Backend& b) {
  b.copy_elements = copy_elements;
  b.fill = fill;
});

}  // namespace
}  // namespace mpq::cpu
