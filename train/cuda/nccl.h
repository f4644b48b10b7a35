// NCCL communicators for train::Distributed (built with the CUDA backend and
// NCCL): the collectives of CUDA tensors between GPUs, queued on the
// device's mpq stream so that they follow the kernels that produced the data.
// Internal to mpq_train: train/distributed.cpp is its only user.
#pragma once

#include <cstddef>
#include <string>

#include "core/device.h"
#include "core/dtype.h"

namespace mpq::train::nccl {

// ncclUniqueId's bytes: made by rank 0, broadcast to the others (through MPI).
constexpr std::size_t kIdBytes = 128;
std::string unique_id();

class Communicator {
 public:
  // One process of `size` on `device`, all sharing `id`.
  Communicator(int rank, int size, const std::string& id, Device device);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  // In place on the device; average divides by the number of processes
  // (ncclAvg). Returns once the result is on the device's stream.
  void all_reduce(void* data, std::size_t count, DType dtype, bool average);
  void broadcast(void* data, std::size_t bytes, int root);
  Device device() const { return device_; }

 private:
  void* comm_ = nullptr;  // ncclComm_t
  Device device_;
};

}  // namespace mpq::train::nccl
