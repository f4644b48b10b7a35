// A reference-counted block of device memory. Tensors (and views of them)
// share one Storage through std::shared_ptr; the block returns to the caching
// allocator when the last of them goes away.
#pragma once

#include <cstddef>
#include <memory>

#include "core/device.h"

namespace mpq {

class Storage {
 public:
  Storage(std::size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_;
};

}  // namespace mpq
