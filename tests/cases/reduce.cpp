// Reduction cases: sum and mean over any axes, keepdim, max (inputs distinct,
// so the arg max is unique and the gradient defined).
#include "ops/reduce.h"
#include "tests/cases/op_case.h"

namespace mpq::cases {

std::vector<OpCase> reduce_cases() {
  std::vector<OpCase> v;
  using Axes = std::vector<std::int64_t>;
  for (const auto& [axes, keep] : std::vector<std::pair<Axes, bool>>{
           {{}, false}, {{1}, false}, {{0, 2}, true}, {{-1}, false}}) {
    for (const char* op : {"sum", "mean"}) {
      OpCase c;
      c.op = op;
      c.name = cat("[2,3,4] axes ", shape_str(axes), (keep ? " keepdim" : ""));
      c.make_inputs = [](std::uint64_t s) { return Inputs{uniform({2, 3, 4}, s)}; };
      const bool is_sum = std::string(op) == "sum";
      c.run = [axes, keep, is_sum](const Inputs& in) {
        return is_sum ? sum(in[0], axes, keep) : mean(in[0], axes, keep);
      };
      c.flops = 24;
      v.push_back(c);
    }
    OpCase m;
    m.op = "max";
    m.name = cat("[2,3,4] axes ", shape_str(axes), (keep ? " keepdim" : ""));
    m.make_inputs = [](std::uint64_t s) { return Inputs{distinct({2, 3, 4}, s)}; };
    m.run = [axes, keep](const Inputs& in) { return max(in[0], axes, keep); };
    v.push_back(m);
  }
  OpCase p;  // batch norm's statistics and the global average pool at ResNet-20 size
  p.op = "sum";
  p.name = "[128,64,8,8] axes [0,2,3]";
  p.perf = true;
  p.make_inputs = [](std::uint64_t s) { return Inputs{uniform({128, 64, 8, 8}, s)}; };
  p.run = [](const Inputs& in) { return sum(in[0], {0, 2, 3}); };
  p.f32_atol = 1e-3;  // a sum of 8192 terms in float32
  p.flops = 128.0 * 64 * 64;
  p.bytes = 4.0 * 128 * 64 * 64;
  v.push_back(p);
  return v;
}

}  // namespace mpq::cases
