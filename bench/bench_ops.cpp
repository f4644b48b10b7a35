// Every op's benchmark-sized cases (tests/cases/, the same list the test
// runner checks) timed on every backend with a device here: the forward
// alone (no graph recorded) and forward + backward, with FLOP/s and bytes/s
// from the case's forward cost (forward + backward counts 3x the forward's
// FLOPs, the usual estimate). Before timing, each case's float32 value on the
// device is checked against the CPU's float64 result (bench/check.h).
//
//   bench/mpq_bench_kernels --benchmark_filter='ops/conv2d/.*'
#include <benchmark/benchmark.h>

#include "bench/check.h"
#include "core/autograd.h"
#include "core/backend.h"
#include "tests/cases/op_case.h"

namespace mpq::bench {
namespace {

using cases::Inputs;
using cases::OpCase;

// The device's float32 value against the CPU's float64 one, to the case's
// float32 tolerance (|got - ref| <= rtol |ref| + atol); false (recorded) on a
// mismatch.
bool check(const OpCase& c, Device device, const Inputs& in, std::string& why) {
  NoGradGuard ng;
  const Tensor got = c.run(in).to(Device::cpu()).to(DType::f64).contiguous();
  const Tensor want = c.run(prepared_inputs(c, DType::f64, Device::cpu())).contiguous();
  const auto g = got.to_vector<double>(), w = want.to_vector<double>();
  Comparison cmp(c.op + " (" + c.name + ") on " + device.str(), c.f32_rtol, c.f32_atol);
  if (g.size() == w.size())
    for (std::size_t i = 0; i < g.size(); ++i)
      cmp.add(static_cast<std::int64_t>(i), g[i], w[i], std::abs(w[i]));
  why = g.size() == w.size() ? cmp.message()
                             : c.op + " (" + c.name + "): " + std::to_string(g.size()) +
                                   " elements, the reference has " + std::to_string(w.size());
  if (why.empty()) return true;
  record_failure(why);
  return false;
}

void run_case(benchmark::State& state, const OpCase& c, Device device, bool backward) {
  const Inputs in = prepared_inputs(c, DType::f32, device);
  std::string why;
  if (!check(c, device, in, why)) {
    state.SkipWithError(why.c_str());
    return;
  }
  Tensor w;
  {
    NoGradGuard ng;
    w = ones_like(c.run(in));
  }
  for (auto _ : state) {
    if (backward) {
      c.run(in).backward(w);
    } else {
      NoGradGuard ng;
      benchmark::DoNotOptimize(c.run(in));
    }
    synchronize(device);
  }
  const double flops = backward ? 3 * c.flops : c.flops;
  if (flops > 0)
    state.counters["FLOP/s"] =
        benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  if (c.bytes > 0)
    state.counters["bytes/s"] = benchmark::Counter(backward ? 3 * c.bytes : c.bytes,
                                                   benchmark::Counter::kIsIterationInvariantRate,
                                                   benchmark::Counter::kIs1024);
}

// Registered before main() runs the benchmarks: every perf case on every backend here.
const bool registered = [] {
  std::vector<Device> devices{Device::cpu()};
  if (device_count(DeviceType::cuda) > 0) devices.push_back(Device::cuda(0));
  for (const OpCase& c : cases::all_op_cases()) {
    if (!c.perf) continue;
    for (const Device& d : devices)
      for (bool backward : {false, true}) {
        const std::string name = "ops/" + c.op + "/" + c.name + "/" + d.str() +
                                 (backward ? "/forward+backward" : "/forward");
        benchmark::RegisterBenchmark(name.c_str(), [&c, d, backward](benchmark::State& s) {
          run_case(s, c, d, backward);
        })->Unit(benchmark::kMillisecond);
      }
  }
  return true;
}();

}  // namespace
}  // namespace mpq::bench
