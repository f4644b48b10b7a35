// Batch normalisation over the channels of an NCHW tensor.
//
// Legend: per channel c, M = N*H*W values x_i.
// Training:  mu = mean(x), var = mean((x - mu)^2) (biased), rstd = 1/sqrt(var + eps)
//            xhat = (x - mu) rstd,  y = gamma xhat + beta
//            running_mean <- (1-m) running_mean + m mu
//            running_var  <- (1-m) running_var  + m var * M/(M-1)   (unbiased, as PyTorch)
// Inference: the same with mu, var taken from the running statistics.
// Backward (training), with g = dL/dy:
//            dbeta = sum g, dgamma = sum g xhat,
//            dx = gamma rstd / M * (M g - dbeta - xhat dgamma)
// Backward (inference): dx = gamma rstd g.
#pragma once

#include "core/tensor.h"

namespace mpq {

// gamma/beta may be undefined (no affine transform). running_mean/var are
// updated in place in training mode (when defined) and read in inference.
Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                    const Tensor& running_mean, const Tensor& running_var, bool training,
                    double momentum = 0.1, double eps = 1e-5);

}  // namespace mpq
