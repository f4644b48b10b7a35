// CPU kernel of the fused softmax cross-entropy; rows are independent.
#pragma once

#include "core/tensor.h"

namespace mpq::cpu {

// Writes probs [N, K] and returns the mean loss.
double cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor& probs);
// dz = scale * (probs - onehot(labels))
void cross_entropy_backward(const Tensor& probs, const Tensor& labels, double scale,
                            const Tensor& dz);

}  // namespace mpq::cpu
