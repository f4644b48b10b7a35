#include "core/cuda/handles.cuh"

#include <map>
#include <mutex>

#include "core/cuda/check.cuh"
#include "core/cuda/runtime.h"
#include "core/tensor.h"

namespace mpq::cuda {

namespace {

struct Handles {
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;
  Tensor workspace;  // uint8, from the caching allocator
};

std::mutex& handles_mutex() {
  static std::mutex m;
  return m;
}

Handles& handles(Device device) {
  // Never destroyed: tensors and handles may be used during static destruction.
  static auto* all = new std::map<int, Handles>;
  return (*all)[device.index];
}

}  // namespace

cublasHandle_t cublas_handle(Device device) {
  cudaStream_t s = stream(device);  // also checks the device and makes it current
  std::lock_guard<std::mutex> lock(handles_mutex());
  Handles& h = handles(device);
  if (!h.cublas) {
    MPQ_CUBLAS_CHECK(cublasCreate(&h.cublas));
    MPQ_CUBLAS_CHECK(cublasSetStream(h.cublas, s));
  }
  // Full float32 arithmetic unless TF32 is allowed (core/cuda/runtime.h).
  MPQ_CUBLAS_CHECK(cublasSetMathMode(
      h.cublas, allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  return h.cublas;
}

cudnnHandle_t cudnn_handle(Device device) {
  cudaStream_t s = stream(device);
  std::lock_guard<std::mutex> lock(handles_mutex());
  Handles& h = handles(device);
  if (!h.cudnn) {
    MPQ_CUDNN_CHECK(cudnnCreate(&h.cudnn));
    MPQ_CUDNN_CHECK(cudnnSetStream(h.cudnn, s));
  }
  return h.cudnn;
}

void* workspace(Device device, std::size_t nbytes) {
  std::lock_guard<std::mutex> lock(handles_mutex());
  Handles& h = handles(device);
  if (!h.workspace.defined() || static_cast<std::size_t>(h.workspace.numel()) < nbytes)
    h.workspace = empty({static_cast<std::int64_t>(nbytes == 0 ? 1 : nbytes)}, DType::u8, device);
  return h.workspace.device_data();
}

}  // namespace mpq::cuda
