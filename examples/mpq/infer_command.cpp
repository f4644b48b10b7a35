// mpq infer FILE: the integer engine on a test set, against the run's
// fake-quant network (--compare), or timed (--bench).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "data/cifar.h"
#include "data/idx.h"
#include "deploy/compare.h"
#include "deploy/engine.h"
#include "deploy/model_file.h"
#include "examples/args.h"
#include "examples/mpq/cli_util.h"
#include "examples/mpq/commands.h"
#include "examples/run_network.h"
#include "train/json.h"

namespace mpq::cli {

namespace {

int bench(deploy::Engine& engine, std::int64_t batch, double seconds) {
  const deploy::InputSpec& in = engine.model().input;
  Generator gen(1);
  std::vector<std::uint8_t> images(
      static_cast<std::size_t>(batch * in.channels * in.height * in.width));
  for (auto& p : images) p = static_cast<std::uint8_t>(gen.below(256));
  deploy::EngineOutput out;
  using clock = std::chrono::steady_clock;
  // Warm-up: primitives created, weights reordered, buffers sized.
  for (int k = 0; k < 3; ++k)
    engine.run(images.data(), batch, in.channels, in.height, in.width, out);
  std::vector<double> times;
  const auto start = clock::now();
  while (std::chrono::duration<double>(clock::now() - start).count() < seconds ||
         times.size() < 5) {
    const auto t0 = clock::now();
    engine.run(images.data(), batch, in.channels, in.height, in.width, out);
    times.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  const double macs = static_cast<double>(engine.macs_per_image()) * static_cast<double>(batch);
  // The roofline: the same int8 convolutions alone, as many runs.
  std::vector<double> conv_times;
  for (std::size_t k = 0; k < times.size(); ++k) {
    const auto t0 = clock::now();
    engine.run_convolutions_only(batch);
    conv_times.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::sort(conv_times.begin(), conv_times.end());
  const double conv_median = conv_times[conv_times.size() / 2];
  std::printf(
      "%s, batch %lld, %d threads: %zu runs, median %.3f ms per batch (%.3f ms per image), "
      "%.1f GMAC/s\n",
      engine.model().model.c_str(), static_cast<long long>(batch), num_threads(), times.size(),
      1e3 * median, 1e3 * median / static_cast<double>(batch), macs / median / 1e9);
  std::printf(
      "int8 convolutions alone (oneDNN, the roofline): %.1f images/s, %.1f GMAC/s; the "
      "engine reaches %.1f%% of it\n",
      static_cast<double>(batch) / conv_median, macs / conv_median / 1e9,
      100.0 * conv_median / median);
  std::printf("images_per_s=%.1f peak_rss_mb=%.1f\n", static_cast<double>(batch) / median,
              peak_rss_mb());
  return 0;
}

}  // namespace

int infer_command(int argc, char** argv) {
  examples::Args args(
      "mpq infer",
      "Runs an integer model file (mpq export) with integer arithmetic only: oneDNN int8\n"
      "convolutions with int32 sums and the fixed-point requantization of docs/integer.md.\n"
      "Evaluates the test set (Fashion-MNIST by default; CIFAR-10 binaries with --data) and\n"
      "prints 'test accuracy: X%'.\n\n"
      "--compare RUN_DIR also runs the run's fake-quant network (float32, as training\n"
      "evaluates it) on the same images and reports the top-1 agreement and, layer by\n"
      "layer, the share of activation values whose integer level differs from the\n"
      "fake-quant value / step (and by how many steps at most).\n\n"
      "--bench times steady-state inference on generated images and ends with the line\n"
      "  images_per_s=<number> peak_rss_mb=<number>\n\n"
      "Examples:\n"
      "  mpq infer resnet20.mpqm --compare runs/20261203-190000\n"
      "  mpq infer resnet20.mpqm --bench --batch 128 --threads 2");
  args.add("model", "", "the model file (may also be given first: mpq infer FILE)");
  args.add("data", "", "CIFAR-10 binary folder (test_batch.bin); empty: Fashion-MNIST");
  args.add("fashion-dir", "/usr/share/datasets/fashion-mnist", "Fashion-MNIST IDX folder");
  args.add("limit", "0", "evaluate the first N test images only (0: all)");
  args.add("json", "", "also write the results to this JSON file");
  args.add("compare", "", "a run folder: compare with its fake-quant network");
  args.add("logits", "", "write the engine's logits here (float32 [N, classes], raw)");
  args.add("reference-logits", "",
           "with --compare: write the fake-quant network's logits here (float32, raw)");
  args.add("checkpoint", "last", "with --compare: last or best");
  args.add("batch", "0", "images per batch (0: 500 for evaluation, 128 for --bench)");
  args.add("threads", "0", "threads (0: all cores)");
  args.add_switch("bench", "time inference on generated images instead of evaluating");
  args.add("seconds", "5", "with --bench: how long to time");
  std::string flag;
  std::vector<char*> av = with_leading_flag(argc, argv, "model", flag);
  if (!args.parse(static_cast<int>(av.size()), av.data())) return 0;
  MPQ_CHECK(args.given("model"), "mpq infer: give the model file: mpq infer FILE");
  const int threads = static_cast<int>(args.integer("threads", 0, 1024));
  if (threads > 0) set_num_threads(threads);
  deploy::Engine engine(deploy::load_model_file(args.str("model")));
  const deploy::IntegerModel& m = engine.model();
  std::int64_t batch = args.integer("batch", 0, 65536);
  if (args.on("bench")) {
    MPQ_CHECK(!args.given("compare") && !args.given("data") && !args.given("limit"),
              "mpq infer: --bench times generated images; it takes no --compare, --data or "
              "--limit");
    return bench(engine, batch > 0 ? batch : 128, args.real("seconds", 0.01, 3600));
  }
  if (batch == 0) batch = 500;
  MPQ_CHECK(m.input.height == 32 && m.input.width == 32, "mpq infer: ", args.str("model"),
            " takes ", m.input.channels, "x", m.input.height, "x", m.input.width,
            " images; mpq infer evaluates the 32x32 test sets (Fashion-MNIST, CIFAR-10) only "
            "(--bench times any model)");

  // The test set, uint8 [N, C, h, w].
  Tensor images, labels;
  std::string dataset;
  if (!args.str("data").empty()) {
    data::CifarSplit te = data::load_cifar10(args.str("data"), false);
    images = te.images;
    labels = te.labels;
    dataset = "CIFAR-10";
  } else {
    data::MnistSplit te = data::load_mnist(args.str("fashion-dir"), false);
    images = te.images.unsqueeze(1);
    labels = te.labels;
    dataset = "Fashion-MNIST";
  }
  std::int64_t n = images.shape()[0];
  const std::int64_t limit = args.integer("limit", 0, INT64_MAX);
  if (limit > 0) n = std::min(n, limit);
  images = images.narrow(0, 0, n).contiguous();
  const std::vector<std::int32_t> y = labels.narrow(0, 0, n).contiguous().to_vector<std::int32_t>();
  const std::int64_t c = images.shape()[1], h = images.shape()[2], w = images.shape()[3];
  MPQ_CHECK(c == m.input.channels, "mpq infer: ", dataset, " has ", c, " channel",
            c == 1 ? "" : "s", "; the model takes ", m.input.channels,
            m.input.channels == 3 ? " (pass --data DIR for CIFAR-10)" : "");

  // --compare: the run's fake-quant network on the same images (deploy/compare.h).
  examples::RunNetwork ref;
  std::unique_ptr<deploy::FakeQuantComparison> cmp;
  if (!args.str("compare").empty()) {
    ref = examples::load_run_network(args.str("compare"), args.str("checkpoint"));
    MPQ_CHECK(ref.config.model == m.model && ref.in_channels == m.input.channels,
              "mpq infer: ", args.str("compare"), " trained a ", ref.config.model, " on ",
              ref.in_channels, " channels; the model file holds a ", m.model, " on ",
              m.input.channels);
    cmp = std::make_unique<deploy::FakeQuantComparison>(*ref.net, engine);
  }

  MPQ_CHECK(args.str("reference-logits").empty() || cmp,
            "mpq infer: --reference-logits needs --compare");
  std::vector<float> logits, reference;
  std::int64_t correct = 0;
  deploy::EngineOutput out;
  const std::uint8_t* pixels = images.data<std::uint8_t>();
  for (std::int64_t b = 0; b < n; b += batch) {
    const std::int64_t k = std::min(batch, n - b);
    const std::uint8_t* p = pixels + b * c * h * w;
    if (cmp) {
      cmp->add(p, k, c, h, w, std::vector<std::int32_t>(y.begin() + b, y.begin() + b + k), out);
    } else {
      engine.run(p, k, c, h, w, out);
    }
    for (std::int64_t i = 0; i < k; ++i)
      correct += out.argmax(i) == y[static_cast<std::size_t>(b + i)];
    for (const double l : out.logits) logits.push_back(static_cast<float>(l));
    if (cmp)
      reference.insert(reference.end(), cmp->reference_logits().begin(),
                       cmp->reference_logits().end());
  }
  auto write_floats = [](const std::string& path, const std::vector<float>& v) {
    write_file_atomic(path, std::string(reinterpret_cast<const char*>(v.data()), 4 * v.size()));
  };
  if (!args.str("logits").empty()) write_floats(args.str("logits"), logits);
  if (!args.str("reference-logits").empty()) write_floats(args.str("reference-logits"), reference);
  const double acc = static_cast<double>(correct) / static_cast<double>(n);
  std::printf("%s on %s, %lld test images\n", m.model.c_str(), dataset.c_str(),
              static_cast<long long>(n));
  std::printf("test accuracy: %.2f%%\n", 100.0 * acc);
  train::Json::Object j{{"model", train::Json(m.model)},
                        {"dataset", train::Json(dataset)},
                        {"images", train::Json(n)},
                        {"accuracy", train::Json(acc)}};
  if (cmp) {
    const deploy::Comparison& r = cmp->result();
    train::Json::Array layers;
    std::printf("\nactivation levels that differ from fake-quant's value / step\n");
    std::printf("%-18s %11s %15s %15s\n", "layer", "values", "per layer", "end to end");
    for (std::size_t k = 0; k < r.per_layer.layers.size(); ++k) {
      const deploy::LayerMismatch& l = r.per_layer.layers[k];
      const deploy::LayerMismatch& e = r.end_to_end.layers[k];
      std::printf("%-18s %11lld %9lld (%lld) %9lld (%lld)\n", l.name.c_str(),
                  static_cast<long long>(l.values), static_cast<long long>(l.differ),
                  static_cast<long long>(l.max_steps), static_cast<long long>(e.differ),
                  static_cast<long long>(e.max_steps));
      layers.emplace_back(train::Json::Object{{"name", train::Json(l.name)},
                                              {"values", train::Json(l.values)},
                                              {"differ", train::Json(l.differ)},
                                              {"max_steps", train::Json(l.max_steps)},
                                              {"differ_end_to_end", train::Json(e.differ)},
                                              {"max_steps_end_to_end", train::Json(e.max_steps)}});
    }
    std::printf(
        "(per layer: each conv on fake-quant's input levels; end to end: on the engine's\n"
        "own; in parentheses the largest difference in steps)\n");
    const double ref_acc = static_cast<double>(r.reference_correct) / static_cast<double>(n);
    const double agreement = static_cast<double>(r.agree) / static_cast<double>(n);
    std::printf("\nfake-quant reference (%s): test accuracy %.2f%%\n", ref.checkpoint.c_str(),
                100.0 * ref_acc);
    std::printf("top-1 agreement: %.3f%% (%lld of %lld images)\n", 100.0 * agreement,
                static_cast<long long>(r.agree), static_cast<long long>(n));
    std::printf(
        "activation levels that differ: %.5f%% per layer (%lld of %lld, at most %lld "
        "step), %.5f%% end to end\n",
        100.0 * r.per_layer.fraction(), static_cast<long long>(r.per_layer.differ()),
        static_cast<long long>(r.per_layer.values()),
        static_cast<long long>(r.per_layer.max_steps()), 100.0 * r.end_to_end.fraction());
    j["reference_accuracy"] = train::Json(ref_acc);
    j["top1_agreement"] = train::Json(agreement);
    j["activation_mismatch_fraction"] = train::Json(r.per_layer.fraction());
    j["activation_max_steps"] = train::Json(r.per_layer.max_steps());
    j["activation_mismatch_fraction_end_to_end"] = train::Json(r.end_to_end.fraction());
    j["max_logit_difference"] = train::Json(r.max_logit_diff);
    j["layers"] = train::Json(std::move(layers));
  }
  if (!args.str("json").empty())
    write_file_atomic(args.str("json"), train::Json(std::move(j)).dump() + "\n");
  return 0;
}

}  // namespace mpq::cli
