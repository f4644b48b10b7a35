// CUDA kernels behind Tensor's copies and fills (core/copy.h is the CPU side).
#pragma once

#include "core/tensor.h"

namespace mpq::cuda {

// dst and src on one CUDA device, same shape; any strides, any dtypes.
void copy_elements(const Tensor& dst, const Tensor& src);
// Every element of dst (any strides) set to value.
void fill(const Tensor& dst, double value);

}  // namespace mpq::cuda
