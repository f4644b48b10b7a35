// Internal to the CUDA backend (.cu files and the backend's .cpp files):
// error checking and the per-device stream. Not installed with the public
// headers, since it needs the CUDA toolkit's headers.
#pragma once

#include <cuda_runtime.h>

#include "core/device.h"
#include "core/error.h"

// Throws mpq::Error with the failing call, CUDA's error name and text.
#define MPQ_CUDA_CHECK(call)                                                                  \
  do {                                                                                        \
    const cudaError_t mpq_cuda_err_ = (call);                                                 \
    MPQ_CHECK(mpq_cuda_err_ == cudaSuccess, "CUDA error in ", #call, ": ",                    \
              cudaGetErrorName(mpq_cuda_err_), " (", cudaGetErrorString(mpq_cuda_err_), ")"); \
  } while (0)

namespace mpq::cuda {

// The stream every kernel and copy of `device` is queued on (created on first
// use, non-blocking with respect to the legacy default stream). Also makes
// the device current.
cudaStream_t stream(Device device);
// True once `device`'s stream exists (work may have been queued on it).
bool has_stream(int device_index);

// Checks the launch of the kernel just queued (configuration errors surface
// here; faults inside the kernel surface at the next synchronising call).
void check_launch(const char* kernel);

// Threads per block and a grid size for n elements (at least one block; the
// kernels stride over the rest with a grid-stride loop).
constexpr int kThreads = 256;
inline unsigned grid_for(std::int64_t n) {
  const std::int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}

}  // namespace mpq::cuda
