// Fused log-softmax + negative log-likelihood, averaged over the batch.
//
//   logits z [N, K], labels y [N] (int32 in [0, K))
//   p = softmax(z) (computed as exp(z - max z) / sum, for stability)
//   L = -1/N sum_n log p[n, y_n]
//   dL/dz = g/N (p - onehot(y))
#pragma once

#include "core/tensor.h"

namespace mpq {

Tensor cross_entropy(const Tensor& logits, const Tensor& labels);

}  // namespace mpq
