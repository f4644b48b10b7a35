// CPU kernels of the elementwise ops. Operands arrive already broadcast to the
// output shape (expanded views with stride 0); the output is any strided
// tensor of the same shape. Autograd lives in ops/elementwise.cpp.
#pragma once

#include "core/tensor.h"

namespace mpq::cpu {

enum class BinaryOp {
  add,
  sub,
  mul,
  div,
  minimum,
  maximum,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,              // uint8 result
  relu_backward,   // out = b > 0 ? a : 0        (a = upstream, b = input)
  clamp_backward,  // out = lo <= b <= hi ? a : 0 (lo, hi = alpha, beta)
};

enum class UnaryOp {
  neg,
  exp,
  log,
  sqrt,
  abs,
  sign,
  relu,
  round,
  floor,
  ceil,
  clamp,   // min(max(x, alpha), beta)
  pow,     // x^alpha
  affine,  // alpha * x + beta
};

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out, double alpha = 0,
            double beta = 0);
void unary(UnaryOp op, const Tensor& x, const Tensor& out, double alpha = 0, double beta = 0);
// out = cond != 0 ? a : b
void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);

}  // namespace mpq::cpu
