// Matrix product and the fully connected layer.
//
//   C[M,N] = A[M,K] B[K,N]          dA = dC B^T,  dB = A^T dC
//   linear: y[N,O] = x[N,I] W[O,I]^T + b[O]   (PyTorch's weight layout)
// float32 runs on oneDNN's matmul (strided inputs, so transposed views need no
// copy); float64 runs the plain-loop reference (gradient checks).
#pragma once

#include "core/tensor.h"

namespace mpq {

Tensor matmul(const Tensor& a, const Tensor& b);
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace mpq
