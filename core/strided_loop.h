// Row-wise iteration over N strided operands of one shape.
//
// The dimensions are visited in the memory order of operand 0 (the output:
// largest stride outermost), so that writes are sequential whatever its
// layout; adjacent dimensions that are contiguous in every operand are then
// merged, so dense operands of one layout (row-major, channels-last, ...)
// become one row. The rows are split
// across threads; row_fn(offsets, n, inner_strides) then walks n elements
// starting at offsets[k] (elements) in operand k with step inner_strides[k].
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <vector>

#include "core/parallel.h"
#include "core/shape.h"

namespace mpq {

template <std::size_t N, class RowFn>
void strided_loop(const Shape& shape, const std::array<Strides, N>& strides, RowFn&& row_fn,
                  std::int64_t grain = 32768) {
  // Collapse: drop size-1 dims, merge dim i into i+1 when every operand is
  // contiguous across the pair.
  std::vector<std::size_t> order(shape.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return strides[0][a] > strides[0][b]; });
  Shape dims;
  std::array<Strides, N> st;
  for (std::size_t i : order) {
    if (shape[i] == 1) continue;
    if (shape[i] == 0) return;
    bool merge = !dims.empty();
    for (std::size_t k = 0; k < N && merge; ++k) merge = st[k].back() == strides[k][i] * shape[i];
    if (merge) {
      dims.back() *= shape[i];
      for (std::size_t k = 0; k < N; ++k) st[k].back() = strides[k][i];
    } else {
      dims.push_back(shape[i]);
      for (std::size_t k = 0; k < N; ++k) st[k].push_back(strides[k][i]);
    }
  }
  if (dims.empty()) {
    dims.push_back(1);
    for (std::size_t k = 0; k < N; ++k) st[k].push_back(0);
  }
  const std::size_t nd = dims.size();
  const std::int64_t inner = dims[nd - 1];
  std::array<std::int64_t, N> inner_strides;
  for (std::size_t k = 0; k < N; ++k) inner_strides[k] = st[k][nd - 1];
  std::int64_t rows = 1;
  for (std::size_t i = 0; i + 1 < nd; ++i) rows *= dims[i];

  if (rows == 1) {
    // A single row: split it instead.
    parallel_for(0, inner, grain, [&](std::int64_t b, std::int64_t e) {
      std::array<std::int64_t, N> off;
      for (std::size_t k = 0; k < N; ++k) off[k] = b * inner_strides[k];
      row_fn(off, e - b, inner_strides);
    });
    return;
  }
  const std::int64_t row_grain = inner >= grain ? 1 : grain / inner;
  parallel_for(0, rows, row_grain, [&](std::int64_t rb, std::int64_t re) {
    for (std::int64_t r = rb; r < re; ++r) {
      std::array<std::int64_t, N> off{};
      std::int64_t rem = r;
      for (std::size_t i = nd - 1; i-- > 0;) {
        const std::int64_t idx = rem % dims[i];
        rem /= dims[i];
        for (std::size_t k = 0; k < N; ++k) off[k] += idx * st[k][i];
      }
      row_fn(off, inner, inner_strides);
    }
  });
}

}  // namespace mpq
