// mpq export RUN_DIR --out FILE: a training run's quantized network as an
// integer model file, every weight packed at its learned bitwidth.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "deploy/export.h"
#include "deploy/model_file.h"
#include "deploy/onnx_export.h"
#include "examples/args.h"
#include "examples/mpq/cli_util.h"
#include "examples/mpq/commands.h"
#include "examples/run_network.h"
#include "train/json.h"

namespace mpq::cli {

int export_command(int argc, char** argv) {
  examples::Args args(
      "mpq export",
      "Writes a training run's quantized network as an integer model file (docs/integer.md):\n"
      "every weight bit-packed at its learned bitwidth, every quantizer's power-of-two step\n"
      "and levels, the folded batch-norm scales and shifts, the graph and the input scaling,\n"
      "with a CRC-32. `mpq infer FILE` runs it with integer arithmetic only.\n\n"
      "It prints where the bytes go:\n"
      "  packed weights   the b-bit codes of every weight and bias\n"
      "  per-channel      float32 batch-norm scales and shifts (8 bytes per channel)\n"
      "  header           magic, version, the JSON graph, CRC\n"
      "and checks the file against the run's learned weight memory (summary.json\n"
      "weight_kb) plus the per-channel parameters plus 4 KiB.\n\n"
      "Supported: resnet20/32/56 (resnet_cifar runs) and resnet18 (imagenet runs) with every\n"
      "weight and activation quantized (uniform or power of two); anything else is refused\n"
      "with the reason.\n\n"
      "--format onnx writes ONNX instead: every quantized weight an integer initializer\n"
      "(INT4 or INT8) with DequantizeLinear, every activation quantizer Clip ->\n"
      "QuantizeLinear -> DequantizeLinear with its power-of-two step, metadata\n"
      "'mpq.preprocess' (how to feed raw images) and 'mpq.bitwidths' (docs/integer.md\n"
      "section 9).\n\n"
      "Examples:\n  mpq export runs/20261203-190000 --out resnet20.mpqm\n"
      "  mpq export runs/20261203-190000 --format onnx --out resnet20.onnx");
  args.add("run", "", "the run folder (may also be given first: mpq export RUN --out FILE)");
  args.add("out", "", "the model file to write (required)");
  args.add("checkpoint", "last",
           "last (the network summary.json describes) or best (best.safetensors)");
  args.add("format", "mpqm",
           "mpqm (the packed integer model file) or onnx (standard operators, see below)");
  args.add("opset", "21",
           "ONNX opset: 21 (weights of <= 4 bits as INT4) or 13 (INT8 only, older runtimes)");
  args.add_switch("float",
                  "with --format onnx: the run's float network (float.safetensors) instead");
  std::string flag;
  std::vector<char*> av = with_leading_flag(argc, argv, "run", flag);
  if (!args.parse(static_cast<int>(av.size()), av.data())) return 0;
  MPQ_CHECK(args.given("run"), "mpq export: give the run folder: mpq export RUN --out FILE");
  MPQ_CHECK(args.given("out"), "mpq export: --out FILE is required");
  const std::string run = args.str("run"), out = args.str("out");

  const bool float_network = args.on("float");
  MPQ_CHECK(!float_network || args.str("format") == "onnx",
            "mpq export: --float goes with --format onnx (a float network has no integer form)");
  MPQ_CHECK(!float_network || !args.given("checkpoint"),
            "mpq export: --float reads float.safetensors; it takes no --checkpoint");
  const examples::RunNetwork r =
      examples::load_run_network(run, float_network ? "float" : args.str("checkpoint"));
  // The input scaling training used: the paper's (p / 255 - 0.5) * 2 in a
  // 32x32 frame, or ImageNet's statistics at the run's --image-size.
  const deploy::InputSpec input = r.program == "imagenet"
                                      ? deploy::InputSpec::imagenet(r.image_size)
                                      : deploy::InputSpec::pm1(r.in_channels);
  deploy::IntegerModel m = deploy::lower_network(*r.net, r.config.model, input, float_network);
  m.source = std::filesystem::path(run).filename().string() + "/" +
             std::filesystem::path(r.checkpoint).filename().string();
  const std::string format = args.str("format");
  MPQ_CHECK(format == "mpqm" || format == "onnx",
            "mpq export: --format must be mpqm or onnx, got '", format, "'");
  if (format == "onnx") {
    deploy::OnnxOptions o;
    o.opset = static_cast<int>(args.integer("opset", 13, 21));
    // Fashion-MNIST's 28x28 images sit in the 32x32 frame: 2 pixels of padding.
    o.image_size = r.program == "resnet_cifar" && r.data.empty() ? 28 : 0;
    deploy::OnnxSizes os;
    write_file_atomic(out, deploy::onnx_model(m, o, &os));
    std::printf("%s (%s): ONNX opset %d\nwrote %s: %lld B (%s weights %lld B)\n",
                r.config.model.c_str(), r.checkpoint.c_str(), o.opset, out.c_str(),
                static_cast<long long>(os.total), float_network ? "float32" : "integer",
                static_cast<long long>(os.weights));
    return 0;
  }
  MPQ_CHECK(!args.given("opset"), "mpq export: --opset goes with --format onnx");
  deploy::ModelFileSizes sizes;
  deploy::save_model_file(out, m, &sizes);

  int lo = 8, hi = 1;
  for (const deploy::ConvNode& c : m.convs) {
    lo = std::min(lo, c.weight.grid.bits);
    hi = std::max(hi, c.weight.grid.bits);
  }
  std::int64_t weights = m.head.weight.numel();
  for (const deploy::ConvNode& c : m.convs) weights += c.weight.numel();
  std::printf("%s (%s): %zu conv layers and the classifier, conv weights at %d to %d bits\n",
              r.config.model.c_str(), r.checkpoint.c_str(), m.convs.size(), lo, hi);
  std::printf("wrote %s\n", out.c_str());
  std::printf("  packed weights %9lld B  (%lld weights; float32: %lld B)\n",
              static_cast<long long>(sizes.packed_weights), static_cast<long long>(weights),
              static_cast<long long>(4 * weights));
  std::printf("  per-channel    %9lld B\n", static_cast<long long>(sizes.per_channel));
  std::printf("  header         %9lld B\n", static_cast<long long>(sizes.header));
  std::printf("  total          %9lld B\n", static_cast<long long>(sizes.total()));
  const std::string summary_path = run + "/summary.json";
  if (args.str("checkpoint") == "last" && std::filesystem::exists(summary_path)) {
    const train::Json s = train::Json::parse(read_file(summary_path, "run summary"), summary_path);
    if (s.is_object() && s.has("weight_kb") && s.at("weight_kb").is_number()) {
      const double kb = s.at("weight_kb").number();
      const double budget = kb * 1024.0 + static_cast<double>(sizes.per_channel) + 4096.0;
      std::printf("  budget         %9.0f B  (weight_kb %.2f kB + per-channel + 4 KiB): %s\n",
                  budget, kb, static_cast<double>(sizes.total()) <= budget ? "within" : "OVER");
    }
  }
  return 0;
}

}  // namespace mpq::cli
