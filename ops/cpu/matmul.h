// oneDNN float32 matmul: c[M,N] (contiguous) = a[M,K] b[K,N] (any strides).
#pragma once

#include "core/tensor.h"

namespace mpq::cpu {

void matmul(const Tensor& a, const Tensor& b, const Tensor& c);

}  // namespace mpq::cpu
