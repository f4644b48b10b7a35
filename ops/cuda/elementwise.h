// CUDA kernels of the elementwise ops, the counterparts of ops/cpu/elementwise.h
// (same kinds, same results: each kind computes the same formula in the same
// dtype). Operands arrive broadcast to the output's shape; any strides.
#pragma once

#include "core/tensor.h"
#include "ops/elementwise_kind.h"

namespace mpq::cuda {

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out, double alpha = 0,
            double beta = 0);
void unary(UnaryOp op, const Tensor& x, const Tensor& out, double alpha = 0, double beta = 0);
// out = cond != 0 ? a : b
void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);

}  // namespace mpq::cuda
