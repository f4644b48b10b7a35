#include "core/storage.h"

#include "core/backend.h"
#include "core/error.h"

namespace mpq {

std::string Device::str() const {
  return type == DeviceType::cpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5 && text.size() < 10 &&
      text.find_first_not_of("0123456789", 5) == std::string::npos)
    return cuda(std::stoi(text.substr(5)));
  MPQ_FAIL("unknown device '", text, "' (expected cpu, cuda or cuda:N)");
}

bool cuda_built() {
  return backend_built(DeviceType::cuda);
}

namespace {
// The backend that pins host memory for its asynchronous uploads, if any.
const Backend* pinning_backend() {
  if (!backend_built(DeviceType::cuda)) return nullptr;
  const Backend& b = backend(Device::cuda());
  return b.pinned_allocate ? &b : nullptr;
}
}  // namespace

Storage::Storage(std::size_t nbytes, Device device, bool pinned)
    : nbytes_(nbytes), device_(device) {
  if (pinned && device.is_cpu()) {
    if (const Backend* b = pinning_backend()) data_ = b->pinned_allocate(nbytes);
    pinned_ = data_ != nullptr;
    if (pinned_) return;
  }
  // The device's caching allocator, which names the reason it cannot serve
  // (no backend in this build, no GPU, an index past the last device).
  data_ = backend(device).allocate(nbytes, device);
}

Storage::~Storage() {
  if (pinned_)
    pinning_backend()->pinned_deallocate(data_, nbytes_);
  else
    backend(device_).deallocate(data_, nbytes_, device_);
}

}  // namespace mpq
