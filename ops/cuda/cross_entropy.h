// CUDA cross-entropy kernels (ops/cpu/cross_entropy.h is the CPU side).
#pragma once

#include "core/tensor.h"

namespace mpq::cuda {

// probs = softmax(logits) per row; loss (a device scalar of the logits' dtype)
// = mean over rows of log(sum exp(z - max)) - (z_y - max), the rows' losses
// added in order in double. logits [N, K] contiguous, labels int32 [N] in range.
void cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor& probs,
                           const Tensor& loss);
// dz = g / N (p - onehot(y)), with g the upstream gradient, a device scalar.
void cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor& g,
                            const Tensor& dz);

}  // namespace mpq::cuda
