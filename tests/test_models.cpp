// The module API, quantized layers and the model zoo.
#include <cmath>
#include <map>

#include "models/fused.h"
#include "models/layers.h"
#include "models/quant_summary.h"
#include "models/zoo.h"
#include "test_util.h"

using namespace mpq;
using namespace mpq::models;
using Catch::Matchers::Contains;

namespace {
bool has_name(const NamedTensors& v, const std::string& n) {
  for (const auto& [name, t] : v)
    if (name == n) return true;
  return false;
}

bool all_finite(const Tensor& t) {
  for (double v : t.to_vector<double>())
    if (!std::isfinite(v)) return false;
  return true;
}
}  // namespace

TEST_CASE("module: hierarchical names, buffers, modes and parameter counts", "[models]") {
  ModelOptions o;
  o.quant = QuantConfig::learned(quant::Parametrization::U3);
  auto net = make_model("resnet20", o);
  const auto params = net->named_parameters();
  CHECK(has_name(params, "conv1.weight"));
  CHECK(has_name(params, "layer2.1.conv1.weight"));
  CHECK(has_name(params, "layer3.2.bn2.bias"));
  CHECK(has_name(params, "fc.weight"));
  CHECK(has_name(params, "fc.bias"));
  CHECK(has_name(params, "layer2.1.conv1.weight_q.d"));  // quantizer raw parameters
  CHECK(has_name(params, "layer2.1.act1.q.qmax"));
  CHECK(has_name(net->named_buffers(), "layer1.0.bn1.running_mean"));
  CHECK(!has_name(params, "layer1.0.bn1.running_mean"));
  // 268,346 conv + FC weights and 1,376 BN parameters.
  CHECK(net->num_parameters() == 268346 + 2 * (16 * 7 + 32 * 6 + 64 * 6));
  CHECK(net->quantizer_parameters().size() ==
        2 * (19 + 2 + 19));  // 19 convs, FC weight and bias, 19 acts
  net->eval();
  CHECK(!net->named_children()[0].second->is_training());
  net->train();
  CHECK(net->named_children()[0].second->is_training());
}

TEST_CASE("module: state dict round trip and load errors", "[models]") {
  ModelOptions a;
  a.quant = QuantConfig::learned(quant::Parametrization::P3);
  a.seed = 1;
  ModelOptions b = a;
  b.seed = 2;
  auto m1 = make_model("resnet20", a), m2 = make_model("resnet20", b);
  m1->eval();
  m2->eval();
  Generator g(5);
  const Tensor x = randn({2, 3, 32, 32}, 0, 1, g);
  const Tensor y1 = m1->forward(x);
  CHECK(test::closeness(m2->forward(x), y1, 1e-6, 1e-6) > 1.0);  // different weights
  m2->load_state_dict(m1->state_dict());
  CHECK_CLOSE(m2->forward(x), y1, 0, 0);
  NamedTensors state = m1->state_dict();
  CHECK(has_name(state, "layer1.0.bn1.running_var"));
  CHECK(has_name(state, "fc.weight_q.qmin"));
  state.pop_back();
  state.emplace_back("extra.weight", zeros({3}));
  state[0].second = zeros({1});
  CHECK_THROWS_WITH(m2->load_state_dict(state), Contains("missing") &&
                                                    Contains("unexpected: extra.weight") &&
                                                    Contains("mismatch: conv1.weight"));
}

TEST_CASE("zoo: forward shapes, parameter counts, finite gradients", "[models][zoo]") {
  struct Case {
    const char* name;
    std::int64_t params;
    Shape input;
  };
  // ResNet-18 and MobileNetV2: the standard torchvision counts (BN and FC included);
  // their gradient check runs on 64x64 inputs to stay fast.
  const std::vector<Case> cases{
      {"resnet20", 269722, {2, 3, 32, 32}},      {"resnet32", 464154, {2, 3, 32, 32}},
      {"resnet56", 853018, {2, 3, 32, 32}},      {"resnet18", 11689512, {2, 3, 64, 64}},
      {"mobilenet_v2", 3504872, {2, 3, 64, 64}}, {"lenet5", 61706, {2, 1, 28, 28}}};
  for (const auto& c : cases) {
    INFO(c.name);
    ModelOptions o;
    o.quant = QuantConfig::learned(quant::Parametrization::U3);
    auto net = make_model(c.name, o);
    CHECK(net->num_parameters() == c.params);
    Generator g(1);
    const Tensor x = randn(c.input, 0, 1, g);
    const Tensor y = net->forward(x);
    const std::int64_t classes =
        std::string(c.name) == "resnet18" || std::string(c.name) == "mobilenet_v2" ? 1000 : 10;
    CHECK(y.shape() == Shape{2, classes});
    sum(mul(y, y)).backward();
    for (const auto& [n, p] : net->named_parameters()) {
      INFO(n);
      REQUIRE(p.grad().defined());
      CHECK(all_finite(p.grad()));
    }
  }
  CHECK_THROWS_WITH(make_model("resnet21", {}), Contains("unknown model") && Contains("resnet20"));
}

TEST_CASE("quantized ResNet-20 equals the float network with quantizers disabled", "[models]") {
  ModelOptions f, q;
  q.quant = QuantConfig::learned(quant::Parametrization::U3);
  auto fnet = make_model("resnet20", f), qnet = make_model("resnet20", q);
  fnet->eval();
  qnet->eval();
  Generator g(3);
  const Tensor x = randn({2, 3, 32, 32}, 0, 1, g);
  const Tensor yf = fnet->forward(x);
  set_quantization_enabled(*qnet, false);
  CHECK_CLOSE(qnet->forward(x), yf, 0, 0);
  set_quantization_enabled(*qnet, true);
  CHECK(test::closeness(qnet->forward(x), yf, 1e-4, 1e-4) > 1.0);
  // Option B has 1x1 projections on the two downsampling blocks.
  ModelOptions b;
  b.shortcut = Shortcut::B;
  auto bnet = make_model("resnet20", b);
  CHECK(bnet->num_parameters() == 269722 + (16 * 32 + 32 * 64) + 2 * (32 + 64));
  CHECK(bnet->forward(x).shape() == Shape{2, 10});
}

TEST_CASE("quant summary: the paper's ResNet-20 memory numbers", "[models][memory]") {
  ModelOptions o;
  auto net = make_model("resnet20", o);
  NoGradGuard ng;
  net->eval();
  net->forward(zeros({1, 3, 32, 32}));
  QuantSummary s = quant_summary(*net);
  CHECK(s.weight_count == 268346);
  CHECK(std::round(s.weight_kb * 10) / 10 == 1048.2);
  CHECK(s.max_activation_count == 16384);
  CHECK(s.activation_count == 188416);
  CHECK(s.activation_layers == 19);
  CHECK(s.max_activation_kb == 64.0);
  CHECK(s.sum_activation_kb == 736.0);
  o.quant = QuantConfig::fixed(2, 4);
  auto qnet = make_model("resnet20", o);
  qnet->eval();
  qnet->forward(zeros({1, 3, 32, 32}));
  s = quant_summary(*qnet);
  CHECK(std::round(s.weight_kb * 10) / 10 == 65.5);
  CHECK(s.max_activation_kb == 8.0);
  CHECK(s.sum_activation_kb == 92.0);
  CHECK(s.mean_weight_bits == 2.0);
  const std::string text = format_quant_summary(s);
  CHECK_THAT(text, Contains("layer2.1.conv1.weight") && Contains("268,346") && Contains("188,416"));
}

TEST_CASE("quantizers per layer, and re-initialisation from trained weights", "[models]") {
  ModelOptions o;
  o.quant = QuantConfig::learned(quant::Parametrization::U3);
  o.quant.overrides["layer1.0.conv1"] = {QuantMode::learned, quant::Parametrization::P3, 4};
  o.quant.overrides["layer3.2.act2"] = {QuantMode::none, quant::Parametrization::U3, 4};
  auto net = make_model("resnet20", o);
  net->eval();
  net->forward(zeros({1, 3, 32, 32}));
  std::map<std::string, std::string> params;
  for (const auto& r : quant_summary(*net).rows) params[r.name] = r.param;
  CHECK(params["layer1.0.conv1.weight"] == "P3");
  CHECK(params["layer1.0.conv2.weight"] == "U3");
  CHECK(params["layer3.2.act2"] == "float");
  CHECK(params["layer3.2.act1"] == "U3");
  // Scaling the weights and re-initialising moves d by the same power of two.
  auto* conv = dynamic_cast<QConv2d*>(net->named_children()[0].second.get());
  REQUIRE(conv != nullptr);
  const double d0 = conv->weight_q->values().d;
  {
    NoGradGuard ng;
    Tensor w = conv->weight;
    w.copy_(mul(conv->weight.detach(), 4.0));
  }
  init_quantizers_from_weights(*net);
  CHECK(conv->weight_q->values().d == d0 * 4);
}

TEST_CASE("re-initialising quantizers keeps the optimizer's parameters live", "[models]") {
  ModelOptions o;
  o.quant = QuantConfig::learned(quant::Parametrization::U3);
  auto net = make_model("lenet5", o);
  const auto before = net->quantizer_parameters();
  init_quantizers_from_weights(*net);
  const auto after = net->quantizer_parameters();
  REQUIRE(before.size() == after.size());
  for (std::size_t i = 0; i < before.size(); ++i)
    CHECK(before[i].impl_ptr() == after[i].impl_ptr());
}

TEST_CASE("zoo: the folded inference path equals the module-by-module one", "[models][zoo]") {
  // With gradients on, eval mode runs conv, batch norm and activation one by
  // one; under NoGradGuard the batch norm is folded into the convolution.
  for (const char* name : {"resnet20", "resnet18"}) {
    for (bool quantized : {false, true}) {
      INFO(name << " quantized " << quantized);
      ModelOptions o;
      o.seed = 5;
      if (quantized) o.quant = QuantConfig::learned(quant::Parametrization::U3, 4, 4);
      auto model = make_model(name, o);
      // Non-trivial running statistics and affine parameters.
      Generator gen(6);
      model->train();
      Shape s = model_input_shape(name);
      s[0] = 2;
      if (std::string(name) == "resnet18") s[2] = s[3] = 64;  // keep the test fast
      model->forward(randn(s, 0.0, 1.0, gen));
      model->eval();
      const Tensor x = randn(s, 0.0, 1.0, gen);
      const std::uint64_t before = conv_bn_act_folded_calls();
      const Tensor plain = model->forward(x);
      CHECK(conv_bn_act_folded_calls() == before);  // gradients on: nothing folded
      Tensor fused;
      {
        NoGradGuard ng;
        fused = model->forward(x);
      }
      // The convs of the residual blocks and (ResNet-20) the stem went through
      // the folded path: 19 of ResNet-20's 19, ResNet-18's 16 block convs.
      CHECK(conv_bn_act_folded_calls() - before == (std::string(name) == "resnet20" ? 19u : 16u));
      // Quantized: a float-rounding difference may move an activation across a
      // rounding boundary (one step, 1/8 here), which moves the logits by a
      // little; a wrong fold would move them by O(1).
      const double tol = quantized ? 2e-2 : 1e-4;
      CHECK(test::closeness(fused, plain.detach(), tol, tol) <= 1.0);
    }
  }
}
