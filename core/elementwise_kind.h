// The elementwise op kinds: one enum for the backend table (core/backend.h),
// whose CPU (ops/cpu/) and CUDA (ops/cuda/) kernels implement each kind alike.
#pragma once

namespace mpq {

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
  // Computed in double and rounded to the dtype once (the quantizers' scalar
  // steps need the same values on every device):
  exp2,        // 2^x
  log2,        // log2(x)
  pow2_round,  // 2^round(log2 x)
};

}  // namespace mpq
