// CUDA matmul through cuBLAS (ops/cpu/matmul.h is the CPU side): c = a b for
// float32 (SGEMM, full float32 arithmetic, no TF32) and float64 (DGEMM).
#pragma once

#include "core/tensor.h"

namespace mpq::cuda {

// a [M, K] and b [K, N] each dense along one axis (row- or column-major);
// c [M, N] contiguous.
void matmul(const Tensor& a, const Tensor& b, const Tensor& c);

}  // namespace mpq::cuda
