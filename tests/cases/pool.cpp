// Pooling cases: max pooling on distinct values (a unique maximum per window,
// so the gradient is defined) with and without padding and overlap, average
// pooling, the global average pool.
#include "ops/pool.h"
#include "tests/cases/op_case.h"

namespace mpq::cases {

namespace {
Pool2dParams window(std::int64_t k, std::int64_t s, std::int64_t p) {
  Pool2dParams w;
  w.kernel = {k, k};
  w.stride = {s, s};
  w.padding = {p, p};
  return w;
}
std::string str(const Pool2dParams& w) {
  return "kernel " + std::to_string(w.kernel[0]) + " stride " + std::to_string(w.stride[0]) +
         " padding " + std::to_string(w.padding[0]);
}
}  // namespace

std::vector<OpCase> pool_cases() {
  std::vector<OpCase> v;
  for (const auto& w : {window(2, 2, 0), window(3, 2, 1), window(3, 1, 1)}) {
    OpCase m;
    m.op = "max_pool2d";
    m.name = cat("x[2,2,6,5] ", str(w));
    m.make_inputs = [](std::uint64_t s) { return Inputs{distinct({2, 2, 6, 5}, s)}; };
    m.run = [w](const Inputs& in) { return max_pool2d(in[0], w); };
    v.push_back(m);
    OpCase a = m;
    a.op = "avg_pool2d";
    a.make_inputs = [](std::uint64_t s) { return Inputs{uniform({2, 2, 6, 5}, s)}; };
    a.run = [w](const Inputs& in) { return avg_pool2d(in[0], w); };
    v.push_back(a);
  }
  OpCase g;
  g.op = "global_avg_pool2d";
  g.name = "x[128,64,8,8]";
  g.perf = true;
  g.make_inputs = [](std::uint64_t s) { return Inputs{uniform({128, 64, 8, 8}, s)}; };
  g.run = [](const Inputs& in) { return global_avg_pool2d(in[0]); };
  g.flops = 128.0 * 64 * 64;
  g.bytes = 4.0 * 128 * 64 * 64;
  v.push_back(g);
  return v;
}

}  // namespace mpq::cases
