#include "core/backend.h"

#include <array>
#include <atomic>

#include "core/error.h"

namespace mpq {

namespace {

constexpr std::size_t kDeviceTypes = 2;  // DeviceType::cpu, DeviceType::cuda

// Filled by static registrations before main, read-only afterwards. A
// function-local static: the first registration initialises it, whichever
// file's static objects run first.
std::array<Backend, kDeviceTypes>& tables() {
  static std::array<Backend, kDeviceTypes> t;
  return t;
}

const char* type_name(DeviceType type) {
  return type == DeviceType::cpu ? "CPU" : "CUDA";
}

std::string not_built(DeviceType type) {
  return std::string("this build of mpq has no ") + type_name(type) + " backend";
}

std::atomic<bool> g_allow_tf32{false};

}  // namespace

BackendRegistration::BackendRegistration(DeviceType type, void (*fill)(Backend&)) {
  fill(tables()[static_cast<std::size_t>(type)]);
}

bool backend_built(DeviceType type) {
  return tables()[static_cast<std::size_t>(type)].name != nullptr;
}

const Backend& backend(Device device) {
  const Backend& b = tables()[static_cast<std::size_t>(device.type)];
  if (b.name == nullptr)
    MPQ_FAIL("cannot use ", device.str(), ": ", not_built(device.type),
             device.type == DeviceType::cuda
                 ? " (configure with -DMPQ_CUDA=ON where nvcc and cuDNN are installed)"
                 : "");
  return b;
}

void missing_kernel(const char* kernel, Device device) {
  MPQ_FAIL(kernel, ": the ", backend(device).name, " backend has no such kernel (on ", device.str(),
           ")");
}

int device_count(DeviceType type, std::string* why_none) {
  if (!backend_built(type)) {
    if (why_none) *why_none = not_built(type);
    return 0;
  }
  return tables()[static_cast<std::size_t>(type)].device_count(why_none);
}

void require_device(Device device, const char* what) {
  const Backend& b = [&]() -> const Backend& {
    try {
      return backend(device);
    } catch (const Error& e) {
      MPQ_FAIL(what, ": ", e.what());
    }
  }();
  std::string why;
  const int n = b.device_count(&why);
  MPQ_CHECK(n > 0, what, ": cannot use ", device.str(), ": no ", type_name(device.type),
            " device is available (", why, ")");
  MPQ_CHECK(device.index >= 0 && device.index < n, what, ": cannot use ", device.str(), ": only ",
            n, " ", type_name(device.type), " device", n == 1 ? "" : "s", " (", b.name, ":0",
            n > 1 ? ".." + std::string(b.name) + ":" + std::to_string(n - 1) : std::string(), ")");
}

void synchronize(Device device) {
  backend(device).synchronize(device);
}

AllocatorStats memory_stats(Device device) {
  return backend(device).memory_stats(device);
}

void set_allow_tf32(bool on) {
  g_allow_tf32 = on;
}
bool allow_tf32() {
  return g_allow_tf32;
}

}  // namespace mpq
