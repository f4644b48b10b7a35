// CPU kernels of the elementwise ops. Operands arrive already broadcast to the
// output shape (expanded views with stride 0); the output is any strided
// tensor of the same shape. Autograd lives in ops/elementwise.cpp.
#pragma once

#include "core/tensor.h"
#include "ops/elementwise_kind.h"

namespace mpq::cpu {

// The op kinds are shared with the CUDA kernels (ops/elementwise_kind.h).
using mpq::BinaryOp;
using mpq::UnaryOp;

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out, double alpha = 0,
            double beta = 0);
void unary(UnaryOp op, const Tensor& x, const Tensor& out, double alpha = 0, double beta = 0);
// out = cond != 0 ? a : b
void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);

}  // namespace mpq::cpu
