// The one runner of every op's case list (tests/cases/): for each case,
//   1. float64 on the CPU: the gradients backward() gives against central
//      finite differences (the whole Jacobian for small outputs, J^T v for a
//      random v otherwise), or values and gradients against the case's
//      reference where the op is a staircase (the quantizers);
//   2. float32 against float64: values and gradients, to the case's float32
//      tolerance;
//   3. every other registered backend with a device present, in float64 and
//      float32: values and gradients against the CPU's (float64 to 1e-10, a
//      matter of summation order; float32 to the case's backend tolerance),
//      and a second run bit for bit equal to the first (the kernels are
//      deterministic).
// Benchmark-sized cases (perf) skip the finite differences.
#include <iostream>

#include "core/backend.h"
#include "tests/cases/op_case.h"
#include "tests/cuda_util.h"

using namespace mpq;
using namespace mpq::cases;

namespace {

struct Result {
  Tensor value;
  std::vector<Tensor> grads;  // undefined for inputs without gradient
};

// f(in) and the gradients of <w, f(in)> for a fixed random w, on the CPU in float64.
Result evaluate(const OpFn& f, const Inputs& in) {
  for (const Tensor& t : in)
    if (t.requires_grad()) t.set_grad(Tensor());
  const Tensor y = f(in);
  const Tensor w = test::rand_f64(y.shape(), 99).to(y.dtype()).to(y.device());
  sum(mul(y, w)).backward();
  Result r;
  r.value = y.detach().to(Device::cpu()).to(DType::f64);
  for (const Tensor& t : in)
    r.grads.push_back(t.requires_grad() && t.grad().defined()
                          ? t.grad().to(Device::cpu()).to(DType::f64)
                          : Tensor());
  return r;
}

void check_close(const Result& got, const Result& want, double atol, double rtol,
                 const std::string& what) {
  {
    INFO(what << ": value");
    CHECK_CLOSE(got.value, want.value, atol, rtol);
  }
  REQUIRE(got.grads.size() == want.grads.size());
  for (std::size_t i = 0; i < got.grads.size(); ++i) {
    INFO(what << ": gradient of input " << i);
    REQUIRE(got.grads[i].defined() == want.grads[i].defined());
    if (got.grads[i].defined()) CHECK_CLOSE(got.grads[i], want.grads[i], atol, rtol);
  }
}

std::string label(const OpCase& c) {
  return c.op + ": " + c.name;
}

}  // namespace

TEST_CASE("op cases: float64 gradients against finite differences or the reference", "[op_cases]") {
  REQUIRE(!all_op_cases().empty());
  for (const OpCase& c : all_op_cases()) {
    if (c.perf) continue;
    DYNAMIC_SECTION(label(c)) {
      if (c.reference) {
        const Result got = evaluate(c.run, prepared_inputs(c, DType::f64, Device::cpu()));
        const Result want = evaluate(c.reference, prepared_inputs(c, DType::f64, Device::cpu()));
        check_close(got, want, c.grad_atol, c.grad_rtol, "against the reference");
      } else {
        test::check_gradients(c.run, prepared_inputs(c, DType::f64, Device::cpu()), c.grad_atol,
                              c.grad_rtol, c.fd_eps);
      }
    }
  }
}

TEST_CASE("op cases: float32 against float64", "[op_cases]") {
  for (const OpCase& c : all_op_cases()) {
    DYNAMIC_SECTION(label(c)) {
      const Result f64 = evaluate(c.run, prepared_inputs(c, DType::f64, Device::cpu()));
      const Result f32 = evaluate(c.run, prepared_inputs(c, DType::f32, Device::cpu()));
      check_close(f32, f64, c.f32_atol, c.f32_rtol, "float32");
    }
  }
}

TEST_CASE("op cases: every registered backend against the CPU", "[op_cases][cuda]") {
  // The backends besides the CPU that have a device here.
  std::vector<Device> devices;
  std::string why_none = "no backend besides the CPU";
  for (DeviceType t : {DeviceType::cuda}) {
    std::string why;
    if (device_count(t, &why) > 0)
      devices.push_back(Device{t, 0});
    else
      why_none = why;
  }
  if (devices.empty()) {
    std::cout << "[mpq-skip] no device of another backend: " << why_none << std::endl;
    return;
  }
  for (const Device& device : devices)
    for (const OpCase& c : all_op_cases())
      for (DType dt : {DType::f64, DType::f32}) {
        DYNAMIC_SECTION(device.str() << " " << dtype_name(dt) << " " << label(c)) {
          const bool f64 = dt == DType::f64;
          const Result cpu = evaluate(c.run, prepared_inputs(c, dt, Device::cpu()));
          const Result dev = evaluate(c.run, prepared_inputs(c, dt, device));
          check_close(dev, cpu, f64 ? 1e-10 : c.backend_atol, f64 ? 1e-10 : c.backend_rtol,
                      device.str());
          const Result again = evaluate(c.run, prepared_inputs(c, dt, device));
          CHECK(test::same_bits(again.value, dev.value));
          for (std::size_t i = 0; i < dev.grads.size(); ++i)
            if (dev.grads[i].defined()) CHECK(test::same_bits(again.grads[i], dev.grads[i]));
        }
      }
}
