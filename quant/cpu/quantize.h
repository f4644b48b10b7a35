// Shared by the CPU kernels of the fused quantizers (quantize_uniform.cpp,
// quantize_pow2.cpp; reached through the backend table, core/backend.h):
// backward reduces the parameter gradients per block of kBlock elements and
// then over blocks in order, in double, so sums do not depend on threading.
#pragma once

#include "core/tensor.h"

namespace mpq::quant::cpu {

constexpr std::int64_t kBlock = 8192;

}  // namespace mpq::quant::cpu
