// Where a tensor's memory lives. Only the CPU backend exists so far; the CUDA
// tag is already part of every tensor so that ops can refuse to mix devices.
#pragma once

#include <string>

namespace mpq {

enum class DeviceType { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  static Device cpu() { return {DeviceType::cpu, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::cuda, index}; }
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool operator==(const Device&) const = default;
  std::string str() const;
};

// True when this build of mpq was configured with the CUDA backend.
bool cuda_built();

}  // namespace mpq
