// The constrained objective, its clipping rules, and a constrained run on a
// tiny dataset that must end within its memory targets.
#include "models/lenet5.h"
#include "models/quant_summary.h"
#include "ops/cross_entropy.h"
#include "test_util.h"
#include "train/mixed_precision.h"
#include "train/optimizer.h"

using namespace mpq;
using namespace mpq::models;
using namespace mpq::train;

namespace {
std::shared_ptr<LeNet5> toy_net() {
  LeNet5Options o;
  o.quant = QuantConfig::learned(quant::Parametrization::U3);
  o.seed = 3;
  return std::make_shared<LeNet5>(o);
}
}  // namespace

TEST_CASE("memory terms match the summary; the penalty reaches the quantizers", "[mixed]") {
  auto net = toy_net();
  net->forward(zeros({1, 1, 28, 28}));
  MemoryTargets t;
  t.weight_kb = 1.0;  // far below: the penalty is active
  const MemoryTerms m = memory_terms(*net, t);
  const QuantSummary s = quant_summary(*net);
  CHECK(m.weight_kb.item() == Approx(s.weight_kb));
  CHECK(m.act_max_kb.item() == Approx(s.max_activation_kb));
  CHECK(m.act_sum_kb.item() == Approx(s.sum_activation_kb));
  CHECK(m.penalty.item() == Approx(0.1 * (s.weight_kb - 1.0) * (s.weight_kb - 1.0)).epsilon(1e-5));
  m.penalty.backward();
  // Lowering q_max lowers the inferred bits: its gradient is positive.
  CHECK(net->quantizers()[0]->raw("qmax").grad().item() > 0);
  CHECK(!constraints_met(*net, t));
  MemoryTargets loose;
  loose.weight_kb = 1e6;
  loose.act_max_kb = 1e6;
  CHECK(constraints_met(*net, loose));
  CHECK(missed_targets(*net, loose).empty());
  CHECK(memory_terms(*net, MemoryTargets{}).penalty.item() == 0.0);
}

TEST_CASE("missed targets name the target, the size and the excess", "[mixed]") {
  auto net = toy_net();
  net->forward(zeros({1, 1, 28, 28}));
  const QuantSummary s = quant_summary(*net);
  MemoryTargets t;
  t.weight_kb = 1.0;                         // missed
  t.act_max_kb = s.max_activation_kb + 1.0;  // met
  t.act_sum_kb = s.sum_activation_kb / 2;    // missed
  const auto misses = missed_targets(*net, t);
  REQUIRE(misses.size() == 2);
  CHECK(misses[0].what == "weights");
  CHECK(misses[0].kb == Approx(s.weight_kb));
  CHECK(misses[0].target_kb == 1.0);
  CHECK(misses[1].what == "sum of activations");
  CHECK(misses[1].target_kb == Approx(s.sum_activation_kb / 2));
  const std::string d = describe_misses(misses);
  CHECK_THAT(d, Catch::Matchers::StartsWith("weights ") &&
                    Catch::Matchers::Contains("> 1.00 kB (+") &&
                    Catch::Matchers::Contains("; sum of activations "));
  // Exactly at the target counts as met.
  MemoryTargets exact;
  exact.weight_kb = s.weight_kb;
  CHECK(missed_targets(*net, exact).empty());
}

TEST_CASE("clipping rules on a network", "[mixed]") {
  auto net = toy_net();
  auto q = net->quantizers()[0];
  const double d = q->raw("d").item();
  q->raw("d").set_grad(scalar_tensor(100.0));
  q->raw("qmax").set_grad(scalar_tensor(-100.0));
  clip_quantizer_gradients(*net);
  CHECK(q->raw("d").grad().item() == Approx(d));
  CHECK(q->raw("qmax").grad().item() == Approx(-d));
  Tensor r = q->raw("qmax");
  r.fill_(1000.0);
  clip_quantizer_parameters(*net);
  CHECK(q->raw("qmax").item() == Approx(127 - 1e-5));
}

TEST_CASE("a constrained run on a tiny dataset ends within its targets", "[mixed]") {
  auto net = toy_net();
  Generator gen(1);
  const Tensor x = randn({32, 1, 28, 28}, 0, 1, gen);
  const Tensor y = randperm(32, gen);
  Tensor labels = empty({32}, DType::i32);
  for (int i = 0; i < 32; ++i) labels.data<std::int32_t>()[i] = y.data<std::int32_t>()[i] % 10;
  net->forward(x);
  const QuantSummary start = quant_summary(*net);
  MemoryTargets t;
  t.weight_kb = start.weight_kb * 0.6;  // from 4 bits to at most ~2.4 on average
  t.act_max_kb = start.max_activation_kb * 0.8;
  Sgd opt(std::vector<ParamGroup>{{net->model_parameters(), 0.0, 1.0},
                                  {net->quantizer_parameters(), 0.0, 1.0}},
          {0.05, 0.9});
  for (int step = 0; step < 400; ++step) {
    const Tensor logits = net->forward(x);
    const MemoryTerms m = memory_terms(*net, t);
    const Tensor loss = add(cross_entropy(logits, labels), m.penalty);
    opt.zero_grad();
    loss.backward();
    clip_quantizer_gradients(*net);
    opt.step();
    clip_quantizer_parameters(*net);
  }
  const QuantSummary end = quant_summary(*net);
  INFO("weights " << start.weight_kb << " -> " << end.weight_kb << " kB (target " << *t.weight_kb
                  << "), max act " << start.max_activation_kb << " -> " << end.max_activation_kb
                  << " kB (target " << *t.act_max_kb << ")");
  CHECK(constraints_met(*net, t));
}
