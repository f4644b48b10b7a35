// mpq summary: the per-layer quantizer table and memory totals of a zoo model.
#include <cstdio>

#include "core/autograd.h"
#include "examples/args.h"
#include "examples/mpq/commands.h"
#include "models/quant_summary.h"
#include "models/zoo.h"

namespace mpq::cli {

int summary_command(int argc, char** argv) {
  examples::Args args(
      "mpq summary",
      "Builds a model of the zoo and prints, per quantized tensor, the parametrization,\n"
      "effective parameters, bitwidth, element count and kB, then the totals the paper\n"
      "reports: conv + FC weights, the largest activation and the sum of activations\n"
      "(per sample, measured by one forward pass of a blank input).\n\n"
      "Bitwidths of 32 mean float (no quantizer); below 32 the tensors get fixed\n"
      "quantizers of that bitwidth (uniform, or power of two with --param P1/P2/P3).\n\n"
      "Example:\n  mpq summary --model resnet20 --wbits 2 --abits 4");
  args.add("model", "",
           "resnet20, resnet32, resnet56, resnet18, mobilenet_v2 or lenet5 (required)");
  args.add("wbits", "32", "weight bitwidth (32: float)");
  args.add("abits", "32", "activation bitwidth (32: float)");
  args.add("param", "U3", "U1..U3 for uniform, P1..P3 for power-of-two fixed quantizers");
  args.add("in-channels", "0",
           "input channels (0: the model's usual, 1 for LeNet-5 and 3 otherwise)");
  args.add("classes", "0", "output classes (0: the model's usual)");
  args.add("shortcut", "A",
           "ResNet CIFAR shortcut: A (identity + zero padding) or B (1x1 projection)");
  args.add_switch("totals", "print only the totals");
  if (!args.parse(argc, argv)) return 0;
  MPQ_CHECK(args.given("model"), "mpq summary: --model is required");
  const std::string name = args.str("model");
  const double wbits = args.real("wbits", 2, 32), abits = args.real("abits", 1, 32);
  const bool pow2 = !quant::is_uniform(quant::parse_parametrization(args.str("param")));
  const std::string shortcut = args.str("shortcut");
  MPQ_CHECK(shortcut == "A" || shortcut == "B", "mpq summary: --shortcut must be A or B, got '",
            shortcut, "'");

  models::ModelOptions o;
  o.in_channels = args.integer("in-channels", 0, 64);
  o.num_classes = args.integer("classes", 0, 100000);
  o.shortcut = shortcut == "A" ? models::Shortcut::A : models::Shortcut::B;
  const auto fixed = pow2 ? quant::Parametrization::P1 : quant::Parametrization::U1;
  if (wbits < 32) o.quant.weights = {models::QuantMode::fixed, fixed, wbits};
  if (abits < 32) o.quant.activations = {models::QuantMode::fixed, fixed, abits};
  auto model = models::make_model(name, o);
  model->eval();
  {
    NoGradGuard ng;
    model->forward(zeros(models::model_input_shape(name, o.in_channels)));
  }
  std::printf("%s: %lld parameters (weights, biases, BN), input %s\n\n", name.c_str(),
              static_cast<long long>(model->num_parameters()),
              shape_str(models::model_input_shape(name, o.in_channels)).c_str());
  std::fputs(
      models::format_quant_summary(models::quant_summary(*model), !args.on("totals")).c_str(),
      stdout);
  return 0;
}

}  // namespace mpq::cli
