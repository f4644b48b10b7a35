// Internal to the CUDA quantizers: the deterministic two-value reduction of
// quant/cuda/quantize.h. A kernel computes per-thread (double) sums over its
// chunk and calls block_sum2; finish_sums2 adds the chunk sums in order.
#pragma once

#include <cuda_runtime.h>

#include "core/cuda/check.cuh"
#include "core/tensor.h"
#include "quant/cuda/quantize.h"

namespace mpq::quant::cuda {

constexpr int kThreads = 256;

// Sums (a, b) over the block with a fixed tree; thread 0 writes them to
// partial[2 * blockIdx.x], partial[2 * blockIdx.x + 1].
__device__ __forceinline__ void block_sum2(double a, double b, double* partial) {
  __shared__ double sa[kThreads], sb[kThreads];
  sa[threadIdx.x] = a;
  sb[threadIdx.x] = b;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s /= 2) {
    if (static_cast<int>(threadIdx.x) < s) {
      sa[threadIdx.x] += sa[threadIdx.x + s];
      sb[threadIdx.x] += sb[threadIdx.x + s];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    partial[2 * blockIdx.x] = sa[0];
    partial[2 * blockIdx.x + 1] = sb[0];
  }
}

template <class T>
__global__ void finish_sums2_kernel(const double* __restrict__ partial, std::int64_t blocks,
                                    T* __restrict__ out_a, T* __restrict__ out_b) {
  double a = 0, b = 0;
  for (std::int64_t i = 0; i < blocks; ++i) {
    a += partial[2 * i];
    b += partial[2 * i + 1];
  }
  *out_a = static_cast<T>(a);
  *out_b = static_cast<T>(b);
}

// Blocks of a reduction over n elements (at least one, so that an empty
// input still writes zeros).
inline std::int64_t chunks_for(std::int64_t n) {
  return n == 0 ? 1 : (n + kChunk - 1) / kChunk;
}

}  // namespace mpq::quant::cuda
