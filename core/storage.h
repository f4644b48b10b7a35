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
  // pinned: CPU memory page-locked for asynchronous copies to a GPU
  // (from the backend that copies from it); ordinary memory when unavailable.
  Storage(std::size_t nbytes, Device device, bool pinned = false);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  bool pinned() const { return pinned_; }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_;
  bool pinned_ = false;
};

}  // namespace mpq
