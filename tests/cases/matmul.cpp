// Matmul and linear cases: plain, transposed operands, with bias, and the
// classifier of ResNet-20 at batch 128.
#include "ops/matmul.h"
#include "tests/cases/op_case.h"

namespace mpq::cases {

namespace {
OpCase mm(std::int64_t M, std::int64_t K, std::int64_t N, bool transposed_b) {
  OpCase c;
  c.op = "matmul";
  c.name = cat("[", std::to_string(M), ",", std::to_string(K), "] x [", std::to_string(K), ",",
               std::to_string(N), "]", (transposed_b ? " (b transposed)" : ""));
  c.make_inputs = [=](std::uint64_t s) {
    return Inputs{uniform({M, K}, s),
                  transposed_b ? uniform({N, K}, s + 1) : uniform({K, N}, s + 1)};
  };
  c.run = [transposed_b](const Inputs& in) {
    return matmul(in[0], transposed_b ? in[1].t() : in[1]);
  };
  c.flops = 2.0 * M * K * N;
  c.bytes = 4.0 * (M * K + K * N + M * N);
  return c;
}
}  // namespace

std::vector<OpCase> matmul_cases() {
  std::vector<OpCase> v{mm(3, 4, 5, false), mm(4, 6, 3, true), mm(1, 7, 2, false)};
  OpCase l;
  l.op = "linear";
  l.name = "x[4,6] w[3,6] b[3]";
  l.make_inputs = [](std::uint64_t s) {
    return Inputs{uniform({4, 6}, s), uniform({3, 6}, s + 1), uniform({3}, s + 2)};
  };
  l.run = [](const Inputs& in) { return linear(in[0], in[1], in[2]); };
  v.push_back(l);
  OpCase p = mm(128, 64, 10, true);  // ResNet-20's classifier
  p.perf = true;
  v.push_back(p);
  OpCase q = mm(256, 256, 256, false);
  q.perf = true;
  q.f32_atol = 1e-4;
  v.push_back(q);
  return v;
}

}  // namespace mpq::cases
