// CUDA kernels of the optimizer updates (train/optimizer.cpp holds the CPU
// loops, the formulas and their meaning); one fused pass per parameter.
#pragma once

#include "core/tensor.h"

namespace mpq::train::cuda {

// d = g + l2 p; with momentum (v defined): v = first ? d : momentum v + d,
// d = nesterov ? d + momentum v : v; then p = shrink p - lr d.
void sgd_update(const Tensor& p, const Tensor& g, const Tensor& v, bool first, double lr,
                double momentum, double l2, double shrink, bool nesterov);
// g' = g + l2 p; m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g'^2;
// p = shrink p - lr (m / c1) / (sqrt(v / c2) + eps), in double per element.
void adam_update(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, double b1,
                 double b2, double eps, double c1, double c2, double lr, double l2, double shrink);

}  // namespace mpq::train::cuda
