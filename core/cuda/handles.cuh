// Internal to the CUDA backend: the cuBLAS and cuDNN handles of a device,
// created on first use and bound to the device's stream (core/cuda/check.cuh),
// so library calls are ordered with mpq's own kernels.
#pragma once

#include <cublas_v2.h>
#include <cudnn.h>

#include "core/device.h"
#include "core/error.h"

#define MPQ_CUBLAS_CHECK(call)                                                          \
  do {                                                                                  \
    const cublasStatus_t mpq_cublas_st_ = (call);                                       \
    MPQ_CHECK(mpq_cublas_st_ == CUBLAS_STATUS_SUCCESS, "cuBLAS error in ", #call, ": ", \
              ::mpq::cuda::cublas().status_string(mpq_cublas_st_));                     \
  } while (0)

#define MPQ_CUDNN_CHECK(call)                                                        \
  do {                                                                               \
    const cudnnStatus_t mpq_cudnn_st_ = (call);                                      \
    MPQ_CHECK(mpq_cudnn_st_ == CUDNN_STATUS_SUCCESS, "cuDNN error in ", #call, ": ", \
              cudnnGetErrorString(mpq_cudnn_st_));                                   \
  } while (0)

namespace mpq::cuda {

// cuBLAS, loaded on first use (dlopen) rather than linked: mapping the
// library costs every process about 150 MB of resident memory, which a run on
// the CPU should not pay. Throws mpq::Error naming the library when it is missing.
struct Cublas {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasSetStream_v2) set_stream;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasSgemm_v2) sgemm;
  decltype(&cublasDgemm_v2) dgemm;
  decltype(&cublasGetStatusString) status_string;
};
const Cublas& cublas();

cublasHandle_t cublas_handle(Device device);
cudnnHandle_t cudnn_handle(Device device);

// A device buffer of at least nbytes for library workspaces, reused across
// calls (grown when a call needs more). Valid until the next call for the
// same device; ordered on the device's stream like everything else.
void* workspace(Device device, std::size_t nbytes);

}  // namespace mpq::cuda
