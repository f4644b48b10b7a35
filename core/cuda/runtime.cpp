#include "core/cuda/runtime.h"

#include <atomic>
#include <mutex>
#include <vector>

#include "core/backend.h"
#include "core/error.h"

#include "core/cuda/check.cuh"

namespace mpq::cuda {

namespace {

struct Devices {
  int count = 0;
  std::string why_none;
  std::vector<cudaStream_t> streams;
  std::mutex mutex;  // guards stream creation
};

Devices& devices() {
  static Devices* d = [] {
    auto* s = new Devices;  // never destroyed: streams may be used during static destruction
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      s->why_none = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(e) + " (" +
                    cudaGetErrorString(e) + "); is the NVIDIA driver installed and a GPU present?";
      (void)cudaGetLastError();  // clear the sticky error state of the failed call
      n = 0;
    } else if (n == 0) {
      s->why_none = "the CUDA driver reports no device";
    }
    s->count = n;
    s->streams.assign(static_cast<std::size_t>(n), nullptr);
    return s;
  }();
  return *d;
}

}  // namespace

int device_count(std::string* why_none) {
  Devices& d = devices();
  if (why_none) *why_none = d.why_none;
  return d.count;
}

void require(Device device, const char* op) {
  MPQ_CHECK(device.type == DeviceType::cuda, op, ": ", device.str(), " is not a CUDA device");
  std::string why;
  const int n = device_count(&why);
  MPQ_CHECK(n > 0, op, ": cannot use ", device.str(), ": no CUDA device is available (", why, ")");
  MPQ_CHECK(device.index >= 0 && device.index < n, op, ": cannot use ", device.str(), ": only ", n,
            " CUDA device", n == 1 ? "" : "s", " (cuda:0", n > 1 ? "..cuda:" : "",
            n > 1 ? std::to_string(n - 1) : std::string(), ")");
}

cudaStream_t stream(Device device) {
  require(device, "cuda::stream");
  Devices& d = devices();
  MPQ_CUDA_CHECK(cudaSetDevice(device.index));
  std::lock_guard<std::mutex> lock(d.mutex);
  cudaStream_t& s = d.streams[static_cast<std::size_t>(device.index)];
  if (!s) MPQ_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

bool has_stream(int device_index) {
  Devices& d = devices();
  std::lock_guard<std::mutex> lock(d.mutex);
  return device_index >= 0 && device_index < d.count &&
         d.streams[static_cast<std::size_t>(device_index)] != nullptr;
}

void check_launch(const char* kernel) {
  const cudaError_t e = cudaGetLastError();
  MPQ_CHECK(e == cudaSuccess, "CUDA kernel ", kernel, " failed to launch: ", cudaGetErrorName(e),
            " (", cudaGetErrorString(e), ")");
}

void set_device(Device device) {
  require(device, "cuda::set_device");
  MPQ_CUDA_CHECK(cudaSetDevice(device.index));
}

void synchronize(Device device) {
  MPQ_CUDA_CHECK(cudaStreamSynchronize(stream(device)));
}

void copy_to_device(void* dst, const void* src, std::size_t nbytes, Device device) {
  if (nbytes == 0) return;
  cudaStream_t s = stream(device);
  MPQ_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, s));
  // Pageable host memory: the call returns once the source is staged, but the
  // caller may free `src` right away; waiting keeps that safe for any source.
  MPQ_CUDA_CHECK(cudaStreamSynchronize(s));
}

void copy_to_device_async(void* dst, const void* src, std::size_t nbytes, Device device) {
  if (nbytes == 0) return;
  MPQ_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, stream(device)));
}

void copy_to_host(void* dst, const void* src, std::size_t nbytes, Device device) {
  if (nbytes == 0) return;
  cudaStream_t s = stream(device);
  MPQ_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, s));
  MPQ_CUDA_CHECK(cudaStreamSynchronize(s));
}

void copy_on_device(void* dst, const void* src, std::size_t nbytes, Device device) {
  if (nbytes == 0) return;
  MPQ_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, stream(device)));
}

bool available() {
  return device_count() > 0;
}

namespace {
// The CUDA backend's device section of the table (core/backend.h); the
// allocator (allocator.cpp), pinned memory (pinned.cpp) and the element
// copies (copy.cu) register theirs beside their code.
const BackendRegistration registration(DeviceType::cuda, [](Backend& b) {
  b.name = "cuda";
  b.device_count = [](std::string* why_none) { return device_count(why_none); };
  b.copy_from_host = [](void* dst, const void* src, std::size_t nbytes, Device device, bool async) {
    if (async)
      copy_to_device_async(dst, src, nbytes, device);
    else
      copy_to_device(dst, src, nbytes, device);
  };
  b.copy_to_host = copy_to_host;
  b.synchronize = synchronize;
});
}  // namespace

}  // namespace mpq::cuda
