// Internal to the CUDA backend: element offsets of up to N strided operands
// that share one shape, for elementwise kernels. When every operand is dense
// with the same strides (any layout: row-major, channels-last), element i of
// the memory order sits at offset i in all of them and the kernel skips the
// index arithmetic.
#pragma once

#include <array>
#include <cstdint>

#include "core/error.h"
#include "core/layout.h"
#include "core/tensor.h"

namespace mpq::cuda {

constexpr int kMaxDims = 8;

template <int N>
struct Indexer {
  int dims = 0;
  bool linear = false;
  std::int64_t sizes[kMaxDims] = {};
  std::int64_t strides[N][kMaxDims] = {};

  // Offsets (in elements) of logical element i (row-major over the shape).
  __device__ __forceinline__ void offsets(std::int64_t i, std::int64_t (&off)[N]) const {
    if (linear) {
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] = i;
      return;
    }
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = dims - 1; d >= 0; --d) {
      const std::int64_t c = i % sizes[d];
      i /= sizes[d];
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += c * strides[k][d];
    }
  }
};

// The indexer of `operands` (all of shape `shape`).
template <int N>
Indexer<N> make_indexer(const Shape& shape, const std::array<const Tensor*, N>& operands) {
  Indexer<N> ix;
  MPQ_CHECK(shape.size() <= static_cast<std::size_t>(kMaxDims), "CUDA kernels take at most ",
            kMaxDims, " dimensions, got shape ", shape_str(shape));
  ix.dims = static_cast<int>(shape.size());
  bool linear = true;
  for (int k = 0; k < N; ++k) {
    const Tensor& t = *operands[static_cast<std::size_t>(k)];
    MPQ_CHECK(t.shape() == shape, "CUDA indexer: operand shape ", shape_str(t.shape()), " is not ",
              shape_str(shape));
    linear = linear && is_dense(t) && same_layout(t, *operands[0]);
    for (int d = 0; d < ix.dims; ++d) ix.strides[k][d] = t.strides()[static_cast<std::size_t>(d)];
  }
  for (int d = 0; d < ix.dims; ++d) ix.sizes[d] = shape[static_cast<std::size_t>(d)];
  ix.linear = linear;
  return ix;
}

}  // namespace mpq::cuda
