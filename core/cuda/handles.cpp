#include "core/cuda/handles.cuh"

#include <dlfcn.h>

#include <map>
#include <mutex>

#include "core/backend.h"
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

const Cublas& cublas() {
  static const Cublas lib = [] {
    // The soname of the toolkit mpq was built with, then the path it was found at.
    void* h = dlopen(MPQ_CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen(MPQ_CUBLAS_PATH, RTLD_NOW | RTLD_LOCAL);
    MPQ_CHECK(h, "cannot load cuBLAS (", MPQ_CUBLAS_SONAME, " or ", MPQ_CUBLAS_PATH,
              "): ", dlerror());
    auto sym = [h](const char* name) {
      void* f = dlsym(h, name);
      MPQ_CHECK(f, "cuBLAS (", MPQ_CUBLAS_SONAME, ") lacks ", name);
      return f;
    };
    Cublas c;
    c.create = reinterpret_cast<decltype(c.create)>(sym("cublasCreate_v2"));
    c.set_stream = reinterpret_cast<decltype(c.set_stream)>(sym("cublasSetStream_v2"));
    c.set_math_mode = reinterpret_cast<decltype(c.set_math_mode)>(sym("cublasSetMathMode"));
    c.sgemm = reinterpret_cast<decltype(c.sgemm)>(sym("cublasSgemm_v2"));
    c.dgemm = reinterpret_cast<decltype(c.dgemm)>(sym("cublasDgemm_v2"));
    c.status_string = reinterpret_cast<decltype(c.status_string)>(sym("cublasGetStatusString"));
    return c;
  }();
  return lib;
}

cublasHandle_t cublas_handle(Device device) {
  cudaStream_t s = stream(device);  // also checks the device and makes it current
  std::lock_guard<std::mutex> lock(handles_mutex());
  Handles& h = handles(device);
  if (!h.cublas) {
    MPQ_CUBLAS_CHECK(cublas().create(&h.cublas));
    MPQ_CUBLAS_CHECK(cublas().set_stream(h.cublas, s));
  }
  // Full float32 arithmetic unless TF32 is allowed (core/cuda/runtime.h).
  MPQ_CUBLAS_CHECK(cublas().set_math_mode(
      h.cublas, mpq::allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
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
