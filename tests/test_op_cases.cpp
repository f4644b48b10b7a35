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
#include <cstring>
#include <iostream>

#include "core/backend.h"
#include "tests/cases/op_case.h"
#include "tests/test_util.h"

using namespace mpq;
using namespace mpq::cases;
using mpq::test::closeness;

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
  INFO(what << ": value\nactual " << got.value.str() << "\nexpected " << want.value.str());
  CHECK(closeness(got.value, want.value, atol, rtol) <= 1.0);
  REQUIRE(got.grads.size() == want.grads.size());
  for (std::size_t i = 0; i < got.grads.size(); ++i) {
    INFO(what << ": gradient of input " << i);
    REQUIRE(got.grads[i].defined() == want.grads[i].defined());
    if (!got.grads[i].defined()) continue;
    INFO("actual " << got.grads[i].str() << "\nexpected " << want.grads[i].str());
    CHECK(closeness(got.grads[i], want.grads[i], atol, rtol) <= 1.0);
  }
}

bool same_bits(const Tensor& a, const Tensor& b) {
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.shape() == cb.shape() && ca.dtype() == cb.dtype() &&
         std::memcmp(ca.raw_data(), cb.raw_data(), ca.numel() * dtype_size(ca.dtype())) == 0;
}

// Central differences of <w, f(x)> for every floating input, against backward.
void check_finite_differences(const OpCase& c, Inputs in) {
  const Tensor y0 = c.run(in);
  const std::int64_t m = y0.numel();
  const bool full_jacobian = m <= 32;
  const std::int64_t rows = full_jacobian ? m : 1;
  const Tensor v = test::rand_f64(y0.shape(), 99);
  for (std::int64_t r = 0; r < rows; ++r) {
    Tensor w = full_jacobian ? zeros(y0.shape(), DType::f64) : v;
    if (full_jacobian) w.data<double>()[r] = 1.0;
    for (const Tensor& t : in)
      if (t.requires_grad()) t.set_grad(Tensor());
    c.run(in).backward(w);
    for (std::size_t k = 0; k < in.size(); ++k) {
      Tensor& x = in[k];
      if (!x.requires_grad()) continue;
      Tensor numeric = zeros(x.shape(), DType::f64);
      double* px = x.data<double>();
      for (std::int64_t j = 0; j < x.numel(); ++j) {
        NoGradGuard ng;
        const double keep = px[j];
        px[j] = keep + c.fd_eps;
        const double fp = sum(mul(c.run(in), w)).item();
        px[j] = keep - c.fd_eps;
        const double fm = sum(mul(c.run(in), w)).item();
        px[j] = keep;
        numeric.data<double>()[j] = (fp - fm) / (2 * c.fd_eps);
      }
      const Tensor analytic = x.grad().defined() ? x.grad() : zeros(x.shape(), DType::f64);
      INFO("input " << k << ", output row " << r << "\nanalytic " << analytic.str() << "\nnumeric "
                    << numeric.str());
      CHECK(closeness(analytic, numeric, c.grad_atol, c.grad_rtol) <= 1.0);
    }
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
        check_finite_differences(c, prepared_inputs(c, DType::f64, Device::cpu()));
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
          CHECK(same_bits(again.value, dev.value));
          for (std::size_t i = 0; i < dev.grads.size(); ++i)
            if (dev.grads[i].defined()) CHECK(same_bits(again.grads[i], dev.grads[i]));
        }
      }
}
