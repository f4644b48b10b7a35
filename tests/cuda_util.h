// Helpers of the CUDA test cases: skipping without a GPU, and comparing a
// computation on the GPU with the same one on the CPU.
#pragma once

#include <cstring>
#include <functional>
#include <iostream>
#include <string>

#include "core/backend.h"
#include "test_util.h"

// Ends the test case as skipped when this process cannot run CUDA work.
#define MPQ_REQUIRE_CUDA()                                             \
  do {                                                                 \
    std::string why_;                                                  \
    if (::mpq::device_count(::mpq::DeviceType::cuda, &why_) == 0) {    \
      std::cout << "[mpq-skip] no CUDA device: " << why_ << std::endl; \
      return;                                                          \
    }                                                                  \
  } while (0)

namespace mpq::test {

inline const Device kGpu = Device::cuda(0);

// Bitwise equality of two tensors' values (on any devices).
inline bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor ca = a.to(Device::cpu()).contiguous(), cb = b.to(Device::cpu()).contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), ca.numel() * dtype_size(ca.dtype())) == 0;
}

// Runs f on CPU inputs and on their CUDA copies; the outputs and the
// gradients of every input must agree to (atol, rtol).
inline void check_against_cpu(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                              const std::vector<Tensor>& inputs, double atol, double rtol) {
  std::vector<Tensor> cpu_in, gpu_in;
  for (const Tensor& t : inputs) {
    cpu_in.push_back(t.clone().detach().set_requires_grad(true));
    gpu_in.push_back(t.to(kGpu).detach().set_requires_grad(true));
  }
  const Tensor yc = f(cpu_in), yg = f(gpu_in);
  REQUIRE(yg.device() == kGpu);
  CHECK_CLOSE(yg.to(Device::cpu()), yc, atol, rtol);
  // A fixed upstream gradient makes every output element count.
  const Tensor w = test::rand_f64(yc.shape(), 99).to(yc.dtype());
  sum(mul(yc, w)).backward();
  sum(mul(yg, w.to(kGpu))).backward();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    INFO("gradient of input " << i);
    REQUIRE(gpu_in[i].grad().defined() == cpu_in[i].grad().defined());
    if (!cpu_in[i].grad().defined()) continue;
    CHECK(gpu_in[i].grad().device() == kGpu);
    CHECK_CLOSE(gpu_in[i].grad().to(Device::cpu()), cpu_in[i].grad(), atol, rtol);
  }
}

}  // namespace mpq::test
