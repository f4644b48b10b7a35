// CPU kernels of batch_norm2d: contiguous NCHW (threaded over channels) or
// channels-last NHWC (threaded over rows, deterministic block sums); y, dy and
// dx share x's layout.
// One template serves float32 and float64; sums accumulate in double.
#pragma once

#include "core/tensor.h"

namespace mpq::cpu {

// Writes y, and mean/rstd per channel (the statistics used: batch statistics
// in training, running ones in inference). gamma, beta may be undefined.
void batch_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                        const Tensor& running_mean, const Tensor& running_var, bool training,
                        double momentum, double eps, const Tensor& y, const Tensor& mean,
                        const Tensor& rstd);
// dx (may be undefined), dgamma and dbeta (may be undefined) are overwritten.
void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                         const Tensor& rstd, bool training, const Tensor& dx, const Tensor& dgamma,
                         const Tensor& dbeta);

}  // namespace mpq::cpu
