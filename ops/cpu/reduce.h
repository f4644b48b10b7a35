// CPU reduction kernels over the last axis of a contiguous [outer, inner]
// matrix; the op layer permutes the reduced axes to the end first.
#pragma once

#include "core/tensor.h"

namespace mpq::cpu {

// out[i] = scale * sum_j x[i, j]   (accumulated in double)
void sum_rows(const Tensor& x, std::int64_t outer, std::int64_t inner, double scale,
              const Tensor& out);
// out[i] = max_j x[i, j]; index[i] = first argmax (may be undefined)
void max_rows(const Tensor& x, std::int64_t outer, std::int64_t inner, const Tensor& out,
              const Tensor& index);

}  // namespace mpq::cpu
