// Internal to the CUDA backend, for kernels (.cu files only: it uses the
// CUDA built-ins blockIdx, blockDim, threadIdx and gridDim).
#pragma once

#include <cstdint>

namespace mpq::cuda {

// The grid-stride loop, `for (const std::int64_t i : grid_stride(n))`: thread
// t of a grid of G threads visits t, t + G, t + 2G, ... below n, so any grid
// (grid_for caps it) covers any n, and consecutive threads touch consecutive
// elements (coalesced). Indices are 64-bit: tensors may exceed 2^31 elements.
class GridStride {
 public:
  struct Iterator {
    std::int64_t i, step;
    __device__ std::int64_t operator*() const { return i; }
    __device__ Iterator& operator++() {
      i += step;
      return *this;
    }
    // Not equality: the last step jumps past n, so "not at the end" means i < n.
    __device__ bool operator!=(const Iterator& end) const { return i < end.i; }
  };
  __device__ explicit GridStride(std::int64_t n) : n_(n) {}
  __device__ Iterator begin() const {
    return {static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x,
            static_cast<std::int64_t>(gridDim.x) * blockDim.x};
  }
  __device__ Iterator end() const { return {n_, 0}; }

 private:
  std::int64_t n_;
};
__device__ inline GridStride grid_stride(std::int64_t n) {
  return GridStride(n);
}

}  // namespace mpq::cuda
