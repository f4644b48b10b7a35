// Deterministic threaded reduction: [0, n) is cut into blocks of kBlock
// elements, each block's partial sums are computed by whichever thread gets
// it, and the partials are then added in block order. The result is the
// same for any number of threads.
#pragma once

#include <array>
#include <vector>

#include "core/parallel.h"
#include "quant/cpu/quantize.h"

namespace mpq::quant::cpu {

template <std::size_t K, class BlockFn>
std::array<double, K> block_reduce(std::int64_t n, BlockFn&& fn) {
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<std::array<double, K>> partial(static_cast<std::size_t>(blocks));
  parallel_for(0, blocks, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t k = b; k < e; ++k) partial[k] = fn(k * kBlock, std::min(n, (k + 1) * kBlock));
  });
  std::array<double, K> total{};
  for (const auto& p : partial)
    for (std::size_t i = 0; i < K; ++i) total[i] += p[i];
  return total;
}

}  // namespace mpq::quant::cpu
