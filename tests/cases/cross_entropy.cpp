// Cross-entropy cases: small logits with int32 labels (no gradient), and the
// classifier's batch of 128 x 10.
#include "ops/cross_entropy.h"
#include "core/rng.h"
#include "tests/cases/op_case.h"

namespace mpq::cases {

namespace {
OpCase ce(std::int64_t N, std::int64_t K, bool perf = false) {
  OpCase c;
  c.op = "cross_entropy";
  c.name = cat("logits[", std::to_string(N), ",", std::to_string(K), "]");
  c.make_inputs = [N, K](std::uint64_t s) {
    Generator g(s + 7);
    std::vector<std::int32_t> labels(static_cast<std::size_t>(N));
    for (auto& l : labels) l = static_cast<std::int32_t>(g.below(static_cast<std::uint64_t>(K)));
    return Inputs{uniform({N, K}, s, -3, 3), from_vector<std::int32_t>(labels, {N})};
  };
  c.run = [](const Inputs& in) { return cross_entropy(in[0], in[1]); };
  c.perf = perf;
  c.flops = 4.0 * static_cast<double>(N * K);
  c.bytes = 4.0 * static_cast<double>(2 * N * K + N);
  return c;
}
}  // namespace

std::vector<OpCase> cross_entropy_cases() {
  return {ce(5, 4), ce(1, 3), ce(128, 10, true)};
}

}  // namespace mpq::cases
