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
//
// Synchronised (several processes share one batch, each holding a slice):
// mu, var and M are those of the whole batch, and the backward's sum g and
// sum g xhat are too; dgamma, dbeta stay this slice's own sums (the processes
// add their parameter gradients afterwards). Per channel, with K = the running
// mean (the same on every process; 0 without one):
//   forward:  S1 = sum (x - K), S2 = sum (x - K)^2, M summed over processes;
//             mu = K + S1/M, var = S2/M - (S1/M)^2
//   backward: sum g, sum g xhat summed over processes, then dx as above.
// Every process must call it for the same layers in the same order (each
// call makes one collective in the forward and one in the backward).
#pragma once

#include <functional>

#include "core/tensor.h"

namespace mpq {

// Sums a float64 tensor in place over every process that shares the batch
// (train::Distributed supplies one); empty: not synchronised.
using BatchNormSync = std::function<void(Tensor&)>;

// gamma/beta may be undefined (no affine transform). running_mean/var are
// updated in place in training mode (when defined) and read in inference.
// sync: synchronised statistics in training (ignored in inference).
Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                    const Tensor& running_mean, const Tensor& running_var, bool training,
                    double momentum = 0.1, double eps = 1e-5, const BatchNormSync& sync = {});

}  // namespace mpq
