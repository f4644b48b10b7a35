// mpq infer FILE: the integer engine on a test set, against the run's
// fake-quant network (--compare), or timed (--bench).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "data/cifar.h"
#include "data/idx.h"
#include "data/transforms.h"
#include "deploy/engine.h"
#include "deploy/model_file.h"
#include "examples/args.h"
#include "examples/mpq/commands.h"
#include "examples/run_network.h"
#include "models/quantized.h"
#include "train/json.h"

namespace mpq::cli {

namespace {

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// A level's position on its grid: the level itself (uniform), or 0 for zero
// and j + 1 for 2^j (power of two), so that one step apart is 1 apart.
std::int64_t position(const deploy::Grid& g, double level) {
  if (g.kind == deploy::GridKind::uniform) return std::llround(level);
  return level <= 0 ? 0 : std::llround(std::log2(level)) + 1;
}

struct LayerStats {
  std::string name;
  std::int64_t values = 0, differ = 0, max_steps = 0;
};

// `mpq infer FILE ...` as `mpq infer --model FILE ...`.
std::vector<char*> with_model_flag(int argc, char** argv, std::string& flag) {
  std::vector<char*> out(argv, argv + argc);
  if (argc >= 2 && argv[1][0] != '-') {
    flag = "--model";
    out.insert(out.begin() + 1, flag.data());
  }
  return out;
}

int bench(deploy::Engine& engine, std::int64_t batch, double seconds) {
  const deploy::InputSpec& in = engine.model().input;
  Generator gen(1);
  std::vector<std::uint8_t> images(static_cast<std::size_t>(batch * in.channels * in.height * in.width));
  for (auto& p : images) p = static_cast<std::uint8_t>(gen.below(256));
  deploy::EngineOutput out;
  using clock = std::chrono::steady_clock;
  // Warm-up: primitives created, weights reordered, buffers sized.
  for (int k = 0; k < 3; ++k) engine.run(images.data(), batch, in.channels, in.height, in.width, out);
  std::vector<double> times;
  const auto start = clock::now();
  while (std::chrono::duration<double>(clock::now() - start).count() < seconds || times.size() < 5) {
    const auto t0 = clock::now();
    engine.run(images.data(), batch, in.channels, in.height, in.width, out);
    times.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  const double macs = static_cast<double>(engine.macs_per_image()) * static_cast<double>(batch);
  std::printf("%s, batch %lld, %d threads: %zu runs, median %.3f ms per batch (%.3f ms per image), "
              "%.1f GMAC/s\n",
              engine.model().model.c_str(), static_cast<long long>(batch), num_threads(),
              times.size(), 1e3 * median, 1e3 * median / static_cast<double>(batch),
              macs / median / 1e9);
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
  args.add("checkpoint", "last", "with --compare: last or best");
  args.add("batch", "0", "images per batch (0: 500 for evaluation, 128 for --bench)");
  args.add("threads", "0", "threads (0: all cores)");
  args.add_switch("bench", "time inference on generated images instead of evaluating");
  args.add("seconds", "5", "with --bench: how long to time");
  std::string flag;
  std::vector<char*> av = with_model_flag(argc, argv, flag);
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
  MPQ_CHECK(c == m.input.channels, "mpq infer: ", dataset, " has ", c, " channel", c == 1 ? "" : "s",
            "; the model takes ", m.input.channels,
            m.input.channels == 3 ? " (pass --data DIR for CIFAR-10)" : "");

  // --compare: the run's fake-quant network, its activations observed.
  examples::RunNetwork ref;
  std::map<std::string, Tensor> observed;  // per act layer, this batch's output
  std::vector<LayerStats> stats;
  const bool compare = !args.str("compare").empty();
  if (compare) {
    ref = examples::load_run_network(args.str("compare"), args.str("checkpoint"));
    MPQ_CHECK(ref.config.model == m.model && ref.in_channels == m.input.channels, "mpq infer: ",
              args.str("compare"), " trained a ", ref.config.model, " on ", ref.in_channels,
              " channels; the model file holds a ", m.model, " on ", m.input.channels);
    for (int t = 1; t < m.num_tensors; ++t) {
      const std::string name = m.tensor_names[static_cast<std::size_t>(t)];
      auto* act = dynamic_cast<models::ActQuant*>(ref.net->find(name));
      MPQ_CHECK(act, "mpq infer: the run's network has no activation quantizer '", name, "'");
      act->observer = [&observed, name](const Tensor& v) { observed[name] = v; };
      stats.push_back({name, 0, 0, 0});
    }
  }

  std::int64_t correct = 0, ref_correct = 0, agree = 0;
  deploy::EngineOutput out;
  const std::uint8_t* pixels = images.data<std::uint8_t>();
  for (std::int64_t b = 0; b < n; b += batch) {
    const std::int64_t k = std::min(batch, n - b);
    engine.run(pixels + b * c * h * w, k, c, h, w, out, compare);
    std::vector<int> top(static_cast<std::size_t>(k));
    for (std::int64_t i = 0; i < k; ++i) {
      top[static_cast<std::size_t>(i)] = out.argmax(i);
      correct += top[static_cast<std::size_t>(i)] == y[static_cast<std::size_t>(b + i)];
    }
    if (!compare) continue;
    NoGradGuard ng;
    // Training's evaluation input: framed in 32x32 and scaled by (p / 255 - 0.5) * 2.
    const Tensor x = data::normalize_pm1(data::to_float32(
        data::center_crop(images.narrow(0, b, k), m.input.height, m.input.width)));
    const std::vector<float> logits = ref.net->forward(x).contiguous().to_vector<float>();
    const std::int64_t classes = out.classes;
    for (std::int64_t i = 0; i < k; ++i) {
      const float* l = logits.data() + i * classes;
      const int rt = static_cast<int>(std::max_element(l, l + classes) - l);
      ref_correct += rt == y[static_cast<std::size_t>(b + i)];
      agree += rt == top[static_cast<std::size_t>(i)];
    }
    for (int t = 1; t < m.num_tensors; ++t) {
      LayerStats& s = stats[static_cast<std::size_t>(t - 1)];
      const deploy::Grid& g = m.tensor_grids[static_cast<std::size_t>(t)];
      const deploy::TensorShape& sh = engine.shape(t);
      const Tensor& v = observed.at(s.name);  // [k, C, H, W] float
      MPQ_CHECK(v.shape() == (Shape{k, sh.channels, sh.height, sh.width}), "mpq infer: layer ",
                s.name, ": the fake-quant activation has shape ", shape_str(v.shape()));
      const std::vector<float> fv = v.contiguous().to_vector<float>();
      const std::vector<std::uint8_t>& lv = out.levels[static_cast<std::size_t>(t)];
      for (std::int64_t i = 0; i < k; ++i)
        for (std::int64_t ch = 0; ch < sh.channels; ++ch)
          for (std::int64_t p = 0; p < sh.height * sh.width; ++p) {
            const double fq = std::ldexp(
                static_cast<double>(fv[static_cast<std::size_t>((i * sh.channels + ch) * sh.height * sh.width + p)]),
                -g.step_exp);
            const std::uint8_t lvl =
                lv[static_cast<std::size_t>((i * sh.height * sh.width + p) * sh.channels + ch)];
            const std::int64_t d = std::llabs(position(g, fq) - position(g, lvl));
            ++s.values;
            if (d != 0 || fq != static_cast<double>(lvl)) ++s.differ;
            s.max_steps = std::max(s.max_steps, d);
          }
    }
  }
  const double acc = static_cast<double>(correct) / static_cast<double>(n);
  std::printf("%s on %s, %lld test images\n", m.model.c_str(), dataset.c_str(),
              static_cast<long long>(n));
  std::printf("test accuracy: %.2f%%\n", 100.0 * acc);
  train::Json::Object j{{"model", train::Json(m.model)},
                        {"dataset", train::Json(dataset)},
                        {"images", train::Json(n)},
                        {"accuracy", train::Json(acc)}};
  if (compare) {
    std::int64_t values = 0, differ = 0, max_steps = 0;
    train::Json::Array layers;
    std::printf("\n%-18s %10s %10s %9s\n", "layer", "values", "differ", "max steps");
    for (const LayerStats& s : stats) {
      values += s.values;
      differ += s.differ;
      max_steps = std::max(max_steps, s.max_steps);
      std::printf("%-18s %10lld %10lld %9lld\n", s.name.c_str(), static_cast<long long>(s.values),
                  static_cast<long long>(s.differ), static_cast<long long>(s.max_steps));
      layers.emplace_back(train::Json::Object{{"name", train::Json(s.name)},
                                              {"values", train::Json(s.values)},
                                              {"differ", train::Json(s.differ)},
                                              {"max_steps", train::Json(s.max_steps)}});
    }
    const double ref_acc = static_cast<double>(ref_correct) / static_cast<double>(n);
    const double agreement = static_cast<double>(agree) / static_cast<double>(n);
    const double mismatch = values ? static_cast<double>(differ) / static_cast<double>(values) : 0;
    std::printf("\nfake-quant reference (%s): test accuracy %.2f%%\n", ref.checkpoint.c_str(),
                100.0 * ref_acc);
    std::printf("top-1 agreement: %.3f%% (%lld of %lld images)\n", 100.0 * agreement,
                static_cast<long long>(agree), static_cast<long long>(n));
    std::printf("activation values that differ: %.5f%% (%lld of %lld), at most %lld step%s\n",
                100.0 * mismatch, static_cast<long long>(differ), static_cast<long long>(values),
                static_cast<long long>(max_steps), max_steps == 1 ? "" : "s");
    j["reference_accuracy"] = train::Json(ref_acc);
    j["top1_agreement"] = train::Json(agreement);
    j["activation_mismatch_fraction"] = train::Json(mismatch);
    j["activation_max_steps"] = train::Json(max_steps);
    j["layers"] = train::Json(std::move(layers));
  }
  if (!args.str("json").empty())
    write_file_atomic(args.str("json"), train::Json(std::move(j)).dump() + "\n");
  return 0;
}

}  // namespace mpq::cli
