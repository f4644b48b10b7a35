// CUDA kernels of batch_norm2d on contiguous NCHW tensors (ops/cpu/batch_norm.h
// is the CPU side, same formulas: two-pass statistics in double, running
// statistics with the unbiased variance). One block per channel reduces with
// a fixed stride and a fixed tree, so results repeat exactly.
#pragma once

#include "core/tensor.h"

namespace mpq::cuda {

void batch_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                        const Tensor& running_mean, const Tensor& running_var, bool training,
                        double momentum, double eps, const Tensor& y, const Tensor& mean,
                        const Tensor& rstd);
void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                         const Tensor& rstd, bool training, const Tensor& dx, const Tensor& dgamma,
                         const Tensor& dbeta);

}  // namespace mpq::cuda
