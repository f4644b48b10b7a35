// CUDA reduction kernels over the last axis of a contiguous [outer, inner]
// matrix, the counterparts of ops/cpu/reduce.h. Sums accumulate in double in
// a fixed order (fixed chunks, fixed tree), so results repeat exactly from
// run to run.
#pragma once

#include "core/tensor.h"

namespace mpq::cuda {

// out[i] = scale * sum_j x[i, j]
void sum_rows(const Tensor& x, std::int64_t outer, std::int64_t inner, double scale,
              const Tensor& out);
// out[i] = max_j x[i, j]; index[i] = first argmax (may be undefined). A NaN wins.
void max_rows(const Tensor& x, std::int64_t outer, std::int64_t inner, const Tensor& out,
              const Tensor& index);
// grad[i, index[i]] = g[i] for a zeroed contiguous [outer, inner] grad (max's backward).
void scatter_rows(const Tensor& g, const Tensor& index, std::int64_t outer, std::int64_t inner,
                  const Tensor& grad);

}  // namespace mpq::cuda
