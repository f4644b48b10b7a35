// Where a tensor's memory lives: the CPU or CUDA device `index`.
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
  // "cpu", "cuda" (= cuda:0) or "cuda:N"; mpq::Error for anything else.
  static Device parse(const std::string& text);
};

// True when this build of mpq was configured with the CUDA backend.
bool cuda_built();

}  // namespace mpq
