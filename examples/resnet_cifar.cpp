// ResNet for CIFAR-10 (or Fashion-MNIST) with learned mixed precision: the
// procedure of Uhlich et al. (ICLR 2020), end to end.
//
//   1. train the float network (--float-epochs);
//   2. build the quantized network (every conv, FC weight and bias, every
//      ReLU output), copy the float weights in and initialise the quantizers
//      from them (PAPER.md's rule);
//   3. train it (--epochs) on cross-entropy + lambda relu(kB - target)^2 for
//      each memory target set, clipping quantizer gradients (targets set) and
//      parameters (always) as PAPER.md says.
// Each epoch is logged (stdout, RUN_DIR/log.jsonl); RUN_DIR/last.safetensors
// is written after every epoch and RUN_DIR/best.safetensors whenever the test
// accuracy improves while every memory target is met. --resume continues a
// killed run from last.safetensors. The end writes RUN_DIR/summary.json.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/autograd.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "data/cifar.h"
#include "data/idx.h"
#include "examples/args.h"
#include "models/quant_summary.h"
#include "models/zoo.h"
#include "ops/cross_entropy.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "train/checkpoint.h"
#include "train/json.h"
#include "train/mixed_precision.h"
#include "train/optimizer.h"
#include "train/report.h"
#include "train/schedule.h"

using namespace mpq;
using train::Json;

namespace {

// ---------------------------------------------------------------- data ----

struct Data {
  std::string name;
  Tensor train_x, train_y, test_x, test_y;  // float32 [N, C, 32, 32] in [-1, 1], int32 [N]
  std::int64_t channels = 0;
};

// uint8 [N, C, H, W] -> float32 [N, C, 32, 32], (x/255 - 0.5) * 2 (the paper's
// scaling), centred in a 32x32 frame of -1 (black) when smaller.
Tensor to_input(const Tensor& u8) {
  const std::int64_t n = u8.shape()[0], c = u8.shape()[1], h = u8.shape()[2], w = u8.shape()[3];
  MPQ_CHECK(h <= 32 && w <= 32, "images of ", h, "x", w, " do not fit 32x32");
  Tensor out = full({n, c, 32, 32}, -1.0);
  const std::int64_t top = (32 - h) / 2, left = (32 - w) / 2;
  const std::uint8_t* src = u8.contiguous().data<std::uint8_t>();
  float* dst = out.data<float>();
  for (std::int64_t p = 0; p < n * c; ++p)
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x)
        dst[(p * 32 + y + top) * 32 + x + left] = (src[(p * h + y) * w + x] / 255.0f - 0.5f) * 2.0f;
  return out;
}

Data load_data(const std::string& cifar_dir, const std::string& fashion_dir, std::int64_t limit,
               std::int64_t test_limit) {
  Data d;
  if (!cifar_dir.empty()) {
    const data::CifarSplit tr = data::load_cifar10(cifar_dir, true),
                           te = data::load_cifar10(cifar_dir, false);
    d.name = "CIFAR-10";
    d.train_x = to_input(tr.images);
    d.train_y = tr.labels;
    d.test_x = to_input(te.images);
    d.test_y = te.labels;
  } else {
    const data::MnistSplit tr = data::load_mnist(fashion_dir, true),
                           te = data::load_mnist(fashion_dir, false);
    d.name = "Fashion-MNIST";
    d.train_x = to_input(tr.images.unsqueeze(1));
    d.train_y = tr.labels;
    d.test_x = to_input(te.images.unsqueeze(1));
    d.test_y = te.labels;
  }
  if (limit > 0 && limit < d.train_x.shape()[0]) {
    d.train_x = d.train_x.narrow(0, 0, limit).contiguous();
    d.train_y = d.train_y.narrow(0, 0, limit).contiguous();
  }
  if (test_limit > 0 && test_limit < d.test_x.shape()[0]) {
    d.test_x = d.test_x.narrow(0, 0, test_limit).contiguous();
    d.test_y = d.test_y.narrow(0, 0, test_limit).contiguous();
  }
  d.channels = d.train_x.shape()[1];
  return d;
}

// Copies samples order[b, b+m) into x/y with the paper's augmentation (pad 4
// + random 32x32 crop, horizontal flip) when `augment`.
void make_batch(const Tensor& images, const Tensor& labels, const std::int32_t* order,
                std::int64_t b, std::int64_t m, bool augment, Generator& gen, Tensor& x,
                Tensor& y) {
  const std::int64_t c = images.shape()[1];
  const float* src = images.data<float>();
  float* dst = x.data<float>();
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int64_t s = order ? order[b + i] : b + i;
    y.data<std::int32_t>()[i] = labels.data<std::int32_t>()[s];
    const std::int64_t dy = augment ? static_cast<std::int64_t>(gen.below(9)) - 4 : 0;
    const std::int64_t dx = augment ? static_cast<std::int64_t>(gen.below(9)) - 4 : 0;
    const bool flip = augment && gen.below(2) == 1;
    for (std::int64_t ch = 0; ch < c; ++ch) {
      const float* plane = src + (s * c + ch) * 1024;
      float* out = dst + (i * c + ch) * 1024;
      for (std::int64_t yy = 0; yy < 32; ++yy)
        for (std::int64_t xx = 0; xx < 32; ++xx) {
          const std::int64_t sy = yy + dy, sx = (flip ? 31 - xx : xx) + dx;
          out[yy * 32 + xx] =
              sy >= 0 && sy < 32 && sx >= 0 && sx < 32 ? plane[sy * 32 + sx] : -1.0f;
        }
    }
  }
}

// ------------------------------------------------------------- helpers ----

std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  return a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL);
}

// A double as text that reads back to the same value.
std::string full_precision(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Copies every entry of `src` whose name and shape exist in `dst`.
int load_matching(models::Module& dst, const models::NamedTensors& src) {
  std::map<std::string, Tensor> s(src.begin(), src.end());
  int copied = 0;
  NoGradGuard ng;
  for (auto& [name, t] : dst.state_dict()) {
    auto it = s.find(name);
    if (it == s.end() || it->second.shape() != t.shape()) continue;
    Tensor d = t;
    d.copy_(it->second);
    ++copied;
  }
  return copied;
}

void check_finite(const Tensor& t, const std::string& what, int epoch, std::int64_t step) {
  const Tensor c = t.detach().contiguous();
  const float* p = c.data<float>();
  for (std::int64_t i = 0; i < c.numel(); ++i)
    MPQ_CHECK(std::isfinite(p[i]), "training stopped: non-finite value (", p[i], ") in ", what,
              " at epoch ", epoch, ", step ", step,
              "; nothing was saved over the last good checkpoint (try a smaller learning rate)");
}

struct EvalResult {
  double loss, accuracy;
};

EvalResult evaluate(models::Module& net, const Tensor& xs, const Tensor& ys) {
  NoGradGuard ng;
  net.eval();
  const std::int64_t n = xs.shape()[0], batch = 500;
  double loss = 0;
  std::int64_t correct = 0;
  for (std::int64_t b = 0; b < n; b += batch) {
    const std::int64_t m = std::min(batch, n - b);
    const Tensor logits = net.forward(xs.narrow(0, b, m));
    const Tensor y = ys.narrow(0, b, m);
    loss += cross_entropy(logits, y.contiguous()).item() * static_cast<double>(m);
    const auto pred = argmax(logits, 1).to_vector<std::int32_t>();
    const auto truth = y.to_vector<std::int32_t>();
    for (std::int64_t i = 0; i < m; ++i) correct += pred[i] == truth[i];
  }
  net.train();
  return {loss / static_cast<double>(n), static_cast<double>(correct) / static_cast<double>(n)};
}

Json opt_number(const std::optional<double>& v) {
  return v ? Json(*v) : Json();
}

// --------------------------------------------------------------- main ----

int run(int argc, char** argv) {
  examples::Args args(
      "resnet_cifar",
      "Trains a CIFAR ResNet with learned mixed precision (Uhlich et al., ICLR 2020): float\n"
      "pre-training, then quantized training of every weight and activation under memory\n"
      "targets. Without --data it uses Fashion-MNIST (1 channel, padded to 32x32) from the\n"
      "Debian package dataset-fashion-mnist; with --data DIR it reads the CIFAR-10 binary\n"
      "files (cifar-10-batches-bin: data_batch_1..5.bin, test_batch.bin).\n\n"
      "Memory targets accept a number of kB, 'auto' (weights: the 2-bit size x 70.1/65.5;\n"
      "largest activation: its 4-bit size x 8.1/8; sum of activations: the 4-bit sum x\n"
      "92.1/92, i.e. the paper's targets scaled to this network) or 'none'.\n\n"
      "The paper's full CIFAR-10 protocol (160 + 160 epochs):\n"
      "  resnet_cifar --data DIR --float-epochs 160 --float-schedule multistep:80,120 \\\n"
      "               --epochs 160 --schedule multistep:80,120 --lr 0.01");
  args.add("config", "",
           "INI experiment file (e.g. examples/presets/paper.ini); flags given here win");
  args.add("experiment", "", "the section of --config to run (e.g. learned-w70-amax8)");
  args.add(
      "mode", "learned",
      "learned (trained quantizers), fixed (fixed bitwidths), learn-qmax (the paper's baseline:\n"
      "      bitwidth fixed, q_max learned) or float (no quantized phase)");
  args.add("quantize", "all", "all (weights and activations) or weights");
  args.add("wbits", "2", "weight bitwidth of the fixed and learn-qmax modes");
  args.add("abits", "4", "activation bitwidth of the fixed and learn-qmax modes");
  args.add("data", "", "CIFAR-10 binary folder; empty: Fashion-MNIST");
  args.add("fashion-dir", "/usr/share/datasets/fashion-mnist", "Fashion-MNIST IDX folder");
  args.add("model", "resnet20", "resnet20, resnet32 or resnet56");
  args.add("param", "U3",
           "quantizer parametrization for weights and activations: U1 U2 U3 P1 P2 P3");
  args.add("float-epochs", "2",
           "float pre-training epochs (0: start the quantized phase from scratch)");
  args.add("float-init", "",
           "take the float network from this checkpoint (e.g. RUN/float.safetensors) instead of "
           "training it");
  args.add("epochs", "2", "quantized training epochs");
  args.add("batch-size", "128", "images per step");
  args.add("float-lr", "0.1", "float phase learning rate");
  args.add("lr", "0.02", "quantized phase learning rate (the paper: 0.01 to 0.03)");
  args.add("float-schedule", "cosine",
           "float phase schedule: constant, step:N, multistep:A,B, cosine");
  args.add("schedule", "cosine", "quantized phase schedule");
  args.add("momentum", "0.9", "SGD momentum");
  args.add("optimizer", "sgd",
           "sgd (the paper's, with --momentum) or adam (decoupled weight decay)");
  args.add("warmup", "0", "epochs of linear learning-rate warmup at the start of each phase");
  args.add("weight-decay", "0.0002",
           "weight decay on every parameter, quantizers and BN included (L2 with SGD, decoupled "
           "with Adam)");
  args.add("weight-target", "auto", "weight memory target in kB, 'auto' or 'none'");
  args.add("act-max-target", "auto", "largest-activation memory target in kB, 'auto' or 'none'");
  args.add("act-sum-target", "none", "sum-of-activations memory target in kB, 'auto' or 'none'");
  args.add("lambda", "0.1", "weight of the memory penalty");
  args.add("bits", "4", "initial bitwidth of the quantizers");
  args.add("train-limit", "0", "use only the first N training images (0: all)");
  args.add("test-limit", "0", "evaluate on the first N test images only (0: all)");
  args.add("run-dir", "", "output folder (default: runs/<date>-<time>)");
  args.add_switch("resume", "continue the run in --run-dir from its last.safetensors");
  args.add("seed", "1", "seed of initialisation, shuffling and augmentation");
  args.add("threads", "0", "threads (0: all cores)");
  args.add("stop-after", "0",
           "stop after this many epochs (float + quantized) as if killed; for testing --resume");
  if (!args.parse(argc, argv)) return 0;
  // The run folder and its configuration come first: a resumed run takes every
  // setting from RUN_DIR/config.json (given flags must agree with it).
  std::string run_dir = args.str("run-dir");
  if (run_dir.empty()) {
    MPQ_CHECK(!args.on("resume"), "resnet_cifar: --resume needs --run-dir");
    char buf[64];
    const std::time_t now = std::time(nullptr);
    std::strftime(buf, sizeof buf, "runs/%Y%m%d-%H%M%S", std::localtime(&now));
    run_dir = buf;
  }
  const std::string config_path = run_dir + "/config.json";
  const std::set<std::string> per_process{"resume", "run-dir", "threads", "stop-after"};
  if (args.on("resume")) {
    MPQ_CHECK(std::filesystem::exists(config_path), "resnet_cifar: cannot resume: ", config_path,
              " is missing (not a resnet_cifar run folder?)");
    std::map<std::string, std::string> saved;
    const Json saved_json = Json::parse(train::read_file(config_path, "resnet_cifar"),
                                        config_path);  // named: the loop must not outlive it
    for (const auto& [k, v] : saved_json.object())
      if (!per_process.count(k)) saved[k] = v.string();
    const auto now = args.values();
    std::string conflicts;
    for (const auto& [k, v] : saved)
      if (args.given(k) && now.count(k) && now.at(k) != v)
        conflicts += "\n  --" + k + " " + now.at(k) + " (the run used " + v + ")";
    MPQ_CHECK(conflicts.empty(),
              "resnet_cifar: --resume with settings that differ from the run's:", conflicts);
    args.apply_saved(saved);
  } else {
    MPQ_CHECK(!std::filesystem::exists(run_dir + "/last.safetensors"), "resnet_cifar: ", run_dir,
              " already holds a run (last.safetensors); continue it with --resume or choose "
              "another --run-dir");
  }
  if (!args.str("config").empty()) {
    MPQ_CHECK(!args.str("experiment").empty(), "resnet_cifar: --config needs --experiment NAME");
    args.load_ini(args.str("config"), args.str("experiment"));
  } else {
    MPQ_CHECK(args.str("experiment").empty(), "resnet_cifar: --experiment needs --config FILE");
  }
  const std::string mode = args.str("mode"), quantize = args.str("quantize");
  MPQ_CHECK(mode == "learned" || mode == "fixed" || mode == "learn-qmax" || mode == "float",
            "resnet_cifar: --mode must be learned, fixed, learn-qmax or float, got '", mode, "'");
  MPQ_CHECK(quantize == "all" || quantize == "weights",
            "resnet_cifar: --quantize must be all or weights, got '", quantize, "'");

  const std::string optimizer = args.str("optimizer");
  MPQ_CHECK(optimizer == "sgd" || optimizer == "adam",
            "resnet_cifar: --optimizer must be sgd or adam, got '", optimizer, "'");
  const auto start = std::chrono::steady_clock::now();
  const std::string model_name = args.str("model");
  MPQ_CHECK(model_name == "resnet20" || model_name == "resnet32" || model_name == "resnet56",
            "resnet_cifar: --model must be resnet20, resnet32 or resnet56, got '", model_name, "'");
  const quant::Parametrization param = quant::parse_parametrization(args.str("param"));
  const int float_epochs = static_cast<int>(args.integer("float-epochs", 0, 10000));
  const int epochs = static_cast<int>(args.integer("epochs", 0, 10000));
  const std::int64_t batch = args.integer("batch-size", 2, 65536);
  const double wd = args.real("weight-decay", 0, 1), momentum = args.real("momentum", 0, 0.999);
  const std::uint64_t seed = static_cast<std::uint64_t>(args.integer("seed", 0, INT64_MAX));
  if (const auto t = args.integer("threads", 0, 1024); t > 0) set_num_threads(static_cast<int>(t));
  std::filesystem::create_directories(run_dir);
  if (!args.on("resume")) {
    Json cfg = Json::Object{};
    for (const auto& [k, v] : args.values())
      if (!per_process.count(k)) cfg[k] = v;
    train::write_file_atomic(config_path, cfg.dump() + "\n");
  }
  const std::string last_path = run_dir + "/last.safetensors",
                    best_path = run_dir + "/best.safetensors";

  // ---- data ----
  const Data data =
      load_data(args.str("data"), args.str("fashion-dir"), args.integer("train-limit", 0, 1 << 30),
                args.integer("test-limit", 0, 1 << 30));
  std::printf(
      "dataset: %s (%lld train, %lld test images, %lld channel%s, 32x32)%s\n", data.name.c_str(),
      static_cast<long long>(data.train_x.shape()[0]),
      static_cast<long long>(data.test_x.shape()[0]), static_cast<long long>(data.channels),
      data.channels == 1 ? "" : "s",
      data.name == "Fashion-MNIST" ? "  <- not CIFAR-10: pass --data DIR for CIFAR-10" : "");
  std::printf("run dir: %s\n", run_dir.c_str());

  // ---- resume state ----
  std::string resume_phase;
  int resume_epoch = 0;
  double best_acc_so_far = -1;
  train::Checkpoint resume;
  if (args.on("resume")) {
    resume = train::load_checkpoint(last_path);
    for (const char* key : {"phase", "epoch", "best_test_accuracy"})
      MPQ_CHECK(resume.metadata.count(key), "resnet_cifar: ", last_path, " has no '", key,
                "' in its metadata (not a last.safetensors of resnet_cifar?)");
    resume_phase = resume.metadata.at("phase");
    resume_epoch = std::stoi(resume.metadata.at("epoch"));
    best_acc_so_far = std::stod(resume.metadata.at("best_test_accuracy"));
    std::printf("resuming %s phase after epoch %d from %s\n", resume_phase.c_str(), resume_epoch,
                last_path.c_str());
  }

  models::ModelOptions mo;
  mo.in_channels = data.channels;
  mo.seed = seed;
  auto float_net = models::make_model(model_name, mo);
  {
    // Weights and activations get the same kind of quantizer; fixed and learn-qmax
    // use the uniform or power-of-two baseline that matches --param.
    const double wbits = mode == "learned" ? args.real("bits", 2, 8) : args.real("wbits", 2, 8);
    const double abits = mode == "learned" ? args.real("bits", 1, 8) : args.real("abits", 1, 8);
    const models::QuantMode qm = mode == "fixed"        ? models::QuantMode::fixed
                                 : mode == "learn-qmax" ? models::QuantMode::learn_qmax
                                                        : models::QuantMode::learned;
    mo.quant.weights = {qm, param, wbits};
    if (quantize == "all") mo.quant.activations = {qm, param, abits};
  }
  std::shared_ptr<models::Module> qnet;

  // Targets scaled to this network (needs the activation sizes of one forward).
  train::MemoryTargets targets;
  targets.lambda = args.real("lambda", 0, 1e6);
  {
    NoGradGuard ng;
    auto probe = models::make_model(model_name, mo);
    probe->eval();
    probe->forward(zeros({1, data.channels, 32, 32}));
    const models::QuantSummary s = models::quant_summary(*probe);
    double w2 = 0, a4max = 0, a4sum = 0;
    for (const auto& r : s.rows) {
      if (r.kind == "activation") {
        a4max = std::max(a4max, 4.0 * static_cast<double>(r.count) / 8192.0);
        a4sum += 4.0 * static_cast<double>(r.count) / 8192.0;
      } else {
        w2 += 2.0 * static_cast<double>(r.count) / 8192.0;
      }
    }
    auto target = [&](const std::string& flag, double autov) -> std::optional<double> {
      const std::string v = args.str(flag);
      if (v == "none") return std::nullopt;
      if (v == "auto") return autov;
      return args.real(flag, 0, 1e12);
    };
    // 'auto' targets apply only to what is quantized: float tensors (weights in
    // float mode, activations with --quantize weights) could never meet them.
    const bool qweights = mode != "float", qacts = mode != "float" && quantize == "all";
    auto applies = [&](const char* flag, bool quantized) {
      MPQ_CHECK(quantized || args.str(flag) == "auto" || args.str(flag) == "none",
                "resnet_cifar: --", flag, " targets tensors that stay float with --mode ", mode,
                " --quantize ", quantize);
      return quantized;
    };
    if (applies("weight-target", qweights))
      targets.weight_kb = target("weight-target", w2 * 70.1 / 65.5);
    if (applies("act-max-target", qacts))
      targets.act_max_kb = target("act-max-target", a4max * 8.1 / 8.0);
    if (applies("act-sum-target", qacts))
      targets.act_sum_kb = target("act-sum-target", a4sum * 92.1 / 92.0);
  }
  auto fmt_target = [](const std::optional<double>& t) {
    return t ? std::to_string(*t).substr(0, 6) + " kB" : std::string("none");
  };
  std::printf(
      "memory targets: weights %s, largest activation %s, sum of activations %s (lambda %g)\n",
      fmt_target(targets.weight_kb).c_str(), fmt_target(targets.act_max_kb).c_str(),
      fmt_target(targets.act_sum_kb).c_str(), targets.lambda);

  std::ofstream log(run_dir + "/log.jsonl", args.on("resume") ? std::ios::app : std::ios::trunc);
  const bool tty = isatty(fileno(stderr));
  const std::int64_t stop_after = args.integer("stop-after", 0, 1 << 30);
  std::int64_t epochs_done = 0;
  struct StopRequested {};
  double images_per_s = 0;
  EvalResult last_eval{0, 0};
  double best_acc = best_acc_so_far;

  // One training phase; returns after `phase_epochs` epochs.
  auto run_phase = [&](const std::string& phase, models::Module& net, bool quantized,
                       int phase_epochs, double lr, const std::string& schedule_spec,
                       int first_epoch, train::Optimizer& opt) {
    train::Schedule sched = train::Schedule::parse(schedule_spec, lr, phase_epochs);
    sched.warmup = args.real("warmup", 0, 1e6);
    const std::int64_t n = data.train_x.shape()[0];
    const std::int64_t steps_per_epoch = (n + batch - 1) / batch;
    Tensor xb = empty({batch, data.channels, 32, 32}), yb = empty({batch}, DType::i32);
    for (int epoch = first_epoch + 1; epoch <= phase_epochs; ++epoch) {
      const auto t0 = std::chrono::steady_clock::now();
      Generator gen(mix(mix(seed, quantized ? 2 : 1), static_cast<std::uint64_t>(epoch)));
      const Tensor perm = randperm(n, gen);
      double ce_sum = 0, pw_sum = 0;
      double pen_sum[3] = {0, 0, 0};  // weights, largest activation, sum of activations
      std::int64_t correct = 0, seen = 0;
      net.train();
      for (std::int64_t s = 0; s < steps_per_epoch; ++s) {
        const std::int64_t b = s * batch, m = std::min(batch, n - b);
        Tensor x = m == batch ? xb : empty({m, data.channels, 32, 32});
        Tensor y = m == batch ? yb : empty({m}, DType::i32);
        make_batch(data.train_x, data.train_y, perm.data<std::int32_t>(), b, m, true, gen, x, y);
        opt.set_lr(
            sched.at(static_cast<double>(epoch - 1) + static_cast<double>(s) / steps_per_epoch));
        const Tensor logits = net.forward(x);
        const Tensor ce = cross_entropy(logits, y);
        Tensor loss = ce;
        double penalty = 0;
        if (quantized && targets.any()) {
          const train::MemoryTerms mt = train::memory_terms(net, targets);
          loss = add(ce, mt.penalty.to(ce.dtype()));
          penalty = mt.penalty.item();
          // Each term on its own, for the log: lambda relu(kB - target)^2.
          const Tensor* kb[3] = {&mt.weight_kb, &mt.act_max_kb, &mt.act_sum_kb};
          const std::optional<double>* tg[3] = {&targets.weight_kb, &targets.act_max_kb,
                                                &targets.act_sum_kb};
          for (int k = 0; k < 3; ++k)
            if (*tg[k]) {
              const double over = std::max(0.0, kb[k]->item() - **tg[k]);
              pen_sum[k] += targets.lambda * over * over * static_cast<double>(m);
            }
        }
        const double l = loss.item();
        const std::int64_t global_step = static_cast<std::int64_t>(epoch - 1) * steps_per_epoch + s;
        MPQ_CHECK(
            std::isfinite(l), "training stopped: the loss is ", l, " at epoch ", epoch, ", step ",
            global_step,
            "; nothing was saved over the last good checkpoint (try a smaller learning rate)");
        opt.zero_grad();
        loss.backward();
        for (const auto& [name, p] : net.named_parameters())
          if (p.grad().defined())
            check_finite(p.grad(), "the gradient of " + name, epoch, global_step);
        if (quantized && optimizer == "sgd")
          train::add_l2_to_gradients(net.quantizer_parameters(), wd);
        if (quantized && targets.any()) train::clip_quantizer_gradients(net);
        opt.step();
        if (quantized) train::clip_quantizer_parameters(net);
        ce_sum += ce.item() * static_cast<double>(m);
        pw_sum += penalty * static_cast<double>(m);
        const auto pred = argmax(logits, 1).to_vector<std::int32_t>();
        for (std::int64_t i = 0; i < m; ++i) correct += pred[i] == y.data<std::int32_t>()[i];
        seen += m;
        if (tty && (s % 5 == 0 || s + 1 == steps_per_epoch)) {
          const double secs = seconds_since(t0),
                       rate = static_cast<double>(seen) / std::max(secs, 1e-9);
          const int filled = static_cast<int>(30 * seen / n);
          std::fprintf(
              stderr,
              "\r%s %d/%d [%.*s%*s] %3d%%  loss %.4f  acc %5.2f%%  %4.0f img/s  ETA %4.0fs ",
              phase.c_str(), epoch, phase_epochs, filled, "##############################",
              30 - filled, "", static_cast<int>(100 * seen / n), ce_sum / static_cast<double>(seen),
              100.0 * static_cast<double>(correct) / static_cast<double>(seen), rate,
              static_cast<double>(n - seen) / std::max(rate, 1e-9));
          std::fflush(stderr);
        }
      }
      const double secs = seconds_since(t0);
      images_per_s = static_cast<double>(seen) / secs;
      if (tty) std::fprintf(stderr, "\r\033[K");
      last_eval = evaluate(net, data.test_x, data.test_y);
      // Memory and constraints (activation sizes from the evaluation's forward).
      const models::QuantSummary qs = models::quant_summary(net);
      const bool met = !quantized || train::constraints_met(net, targets);
      std::printf(
          "%s epoch %d/%d  ce %.4f  penalty %.4f  train acc %.2f%%  test acc %.2f%%  W %.1f kB "
          "(%.2f b)  "
          "Amax %.1f kB  Asum %.1f kB  %s  %.0f img/s  %.0fs\n",
          phase.c_str(), epoch, phase_epochs, ce_sum / static_cast<double>(seen),
          pw_sum / static_cast<double>(seen),
          100.0 * static_cast<double>(correct) / static_cast<double>(seen),
          100 * last_eval.accuracy, qs.weight_kb, qs.mean_weight_bits, qs.max_activation_kb,
          qs.sum_activation_kb, quantized ? (met ? "targets met" : "targets NOT met") : "float",
          images_per_s, secs);
      std::fflush(stdout);
      Json line = Json::Object{};
      line["phase"] = phase;
      line["epoch"] = epoch;
      line["train_ce"] = ce_sum / static_cast<double>(seen);
      line["train_penalty"] = pw_sum / static_cast<double>(seen);
      line["train_penalty_weights"] = pen_sum[0] / static_cast<double>(seen);
      line["train_penalty_act_max"] = pen_sum[1] / static_cast<double>(seen);
      line["train_penalty_act_sum"] = pen_sum[2] / static_cast<double>(seen);
      line["train_accuracy"] = static_cast<double>(correct) / static_cast<double>(seen);
      line["test_loss"] = last_eval.loss;
      line["test_accuracy"] = last_eval.accuracy;
      line["weight_kb"] = qs.weight_kb;
      line["activation_kb_max"] = qs.max_activation_kb;
      line["activation_kb_sum"] = qs.sum_activation_kb;
      line["mean_weight_bits"] = qs.mean_weight_bits;
      line["constraints_met"] = met;
      line["images_per_s"] = images_per_s;
      line["lr"] = opt.lr();
      // Checkpoints: best (quantized phase, targets met), then last.
      train::Checkpoint ck;
      for (const auto& [k, v] : net.state_dict()) ck.tensors.emplace_back("model." + k, v);
      for (const auto& [k, v] : opt.state()) ck.tensors.emplace_back("optim." + k, v);
      if (quantized && met && last_eval.accuracy > best_acc) {
        best_acc = last_eval.accuracy;
        ck.metadata = {{"phase", phase},
                       {"epoch", std::to_string(epoch)},
                       {"test_accuracy", std::to_string(last_eval.accuracy)}};
        train::save_checkpoint(best_path, ck);
      }
      ck.metadata = {{"phase", phase},
                     {"epoch", std::to_string(epoch)},
                     {"best_test_accuracy", full_precision(best_acc)},
                     {"model", model_name},
                     {"param", std::string(quant::parametrization_name(param))},
                     {"seed", std::to_string(seed)}};
      train::save_checkpoint(last_path, ck);
      // Logged once the epoch is safely checkpointed, so a resumed run never
      // repeats a line.
      log << line.dump() << "\n";
      log.flush();
      if (stop_after > 0 && ++epochs_done == stop_after) throw StopRequested{};
    }
  };

  auto make_opt = [&](models::Module& net, double lr) -> std::unique_ptr<train::Optimizer> {
    // The paper's preset: the same L2 decay on every parameter, quantizers and BN included.
    // With SGD the quantizers' decay is added to their gradients before the clipping
    // (see the training step), so their group has none of its own.
    std::vector<train::ParamGroup> groups{
        {net.model_parameters(), wd, 1.0},
        {net.quantizer_parameters(), optimizer == "sgd" ? 0.0 : wd, 1.0}};
    if (optimizer == "adam")
      return std::make_unique<train::Adam>(
          std::move(groups),
          train::AdamOptions{lr, 0.9, 0.999, 1e-8, wd, train::WeightDecay::decoupled});
    return std::make_unique<train::Sgd>(std::move(groups),
                                        train::SgdOptions{lr, momentum, wd, false});
  };
  auto restore = [&](models::Module& net, train::Optimizer& opt) {
    models::NamedTensors model_state, opt_state;
    for (const auto& [k, v] : resume.tensors) {
      if (k.rfind("model.", 0) == 0) model_state.emplace_back(k.substr(6), v);
      if (k.rfind("optim.", 0) == 0) opt_state.emplace_back(k.substr(6), v);
    }
    net.load_state_dict(model_state);
    opt.load_state(opt_state);
  };

  try {
    // ---- phase 1: float (trained, or taken from --float-init) ----
    if (!args.str("float-init").empty() && resume_phase != "quant") {
      models::NamedTensors state;
      for (const auto& [k, v] : train::load_checkpoint(args.str("float-init")).tensors)
        if (k.rfind("model.", 0) == 0) state.emplace_back(k.substr(6), v);
      float_net->load_state_dict(state);
      std::printf("float network from %s (test accuracy %.2f%%)\n", args.str("float-init").c_str(),
                  100 * evaluate(*float_net, data.test_x, data.test_y).accuracy);
    } else if (resume_phase != "quant" && float_epochs > 0) {
      auto opt = make_opt(*float_net, args.real("float-lr", 0, 1e30));
      if (resume_phase == "float") restore(*float_net, *opt);
      run_phase("float", *float_net, false, float_epochs, args.real("float-lr", 0, 1e30),
                args.str("float-schedule"), resume_phase == "float" ? resume_epoch : 0, *opt);
      // The trained float network, reusable by other runs (--float-init).
      train::Checkpoint fck;
      for (const auto& [k, v] : float_net->state_dict()) fck.tensors.emplace_back("model." + k, v);
      fck.metadata = {
          {"phase", "float"}, {"epoch", std::to_string(float_epochs)}, {"model", model_name}};
      train::save_checkpoint(run_dir + "/float.safetensors", fck);
    }
    // ---- phase 2: quantized, from the float weights (none in float mode) ----
    if (mode == "float") mo.quant = models::QuantConfig::float_network();
    qnet = models::make_model(model_name, mo);
    auto qopt = make_opt(*qnet, args.real("lr", 0, 1e30));
    if (resume_phase == "quant") {
      restore(*qnet, *qopt);
    } else {
      const int copied = load_matching(*qnet, float_net->state_dict());
      MPQ_CHECK(copied == static_cast<int>(float_net->state_dict().size()), "resnet_cifar: only ",
                copied, " of ", float_net->state_dict().size(),
                " float tensors found a place in the quantized network");
      models::init_quantizers_from_weights(*qnet);
    }
    if (mode != "float" && epochs > 0)
      run_phase("quant", *qnet, true, epochs, args.real("lr", 0, 1e30), args.str("schedule"),
                resume_phase == "quant" ? resume_epoch : 0, *qopt);
  } catch (const StopRequested&) {
    std::printf(
        "stopped after %lld epochs as asked (--stop-after); continue with --resume --run-dir %s\n",
        static_cast<long long>(stop_after), run_dir.c_str());
    return 0;
  }

  // ---- final report ----
  const EvalResult final_eval = evaluate(*qnet, data.test_x, data.test_y);
  const models::QuantSummary qs = models::quant_summary(*qnet);
  const bool met = train::constraints_met(*qnet, targets);
  std::printf("\nper-layer quantizers of the final network:\n%s",
              models::format_quant_summary(qs).c_str());
  std::printf("\nfinal test accuracy: %.2f%%  (best with targets met: %s)\n",
              100 * final_eval.accuracy,
              best_acc >= 0 ? (std::to_string(100 * best_acc).substr(0, 5) + "%").c_str() : "none");
  std::printf(
      "memory: weights %.1f kB, largest activation %.1f kB, sum of activations %.1f kB -> %s\n",
      qs.weight_kb, qs.max_activation_kb, qs.sum_activation_kb,
      met ? "all targets met" : "targets NOT met");
  Json summary = Json::Object{};
  summary["dataset"] = data.name;
  summary["model"] = model_name;
  summary["param"] =
      mode == "float" ? std::string("float") : std::string(quant::parametrization_name(param));
  summary["mode"] = mode;
  summary["quantize"] = quantize;
  summary["experiment"] = args.str("experiment").empty() ? Json() : Json(args.str("experiment"));
  summary["float_epochs"] = float_epochs;
  summary["epochs"] = epochs;
  summary["test_accuracy"] = final_eval.accuracy;
  summary["best_test_accuracy"] = best_acc >= 0 ? Json(best_acc) : Json();
  summary["weight_kb"] = qs.weight_kb;
  summary["activation_kb_max"] = qs.max_activation_kb;
  summary["activation_kb_sum"] = qs.sum_activation_kb;
  summary["weight_kb_target"] = opt_number(targets.weight_kb);
  summary["activation_kb_max_target"] = opt_number(targets.act_max_kb);
  summary["activation_kb_sum_target"] = opt_number(targets.act_sum_kb);
  summary["constraints_met"] = met;
  summary["images_per_s"] = images_per_s;
  summary["mean_weight_bits"] = qs.mean_weight_bits;
  Json bits = Json::Object{};
  for (const auto& r : qs.rows) bits[r.name] = r.bits;
  summary["bitwidths"] = bits;
  summary["run_dir"] = run_dir;
  summary["wall_time_s"] = seconds_since(start);
  train::write_file_atomic(run_dir + "/summary.json", summary.dump() + "\n");
  Json::Array rows;
  for (const auto& r : qs.rows)
    rows.push_back(Json::Object{{"name", r.name},
                                {"kind", r.kind},
                                {"param", r.param},
                                {"d", r.d},
                                {"qmax", r.qmax},
                                {"qmin", r.qmin},
                                {"bits", r.bits},
                                {"count", r.count},
                                {"kb", r.kb}});
  train::write_file_atomic(run_dir + "/quantizers.json", Json(rows).dump() + "\n");
  const std::string report = train::write_report(run_dir);
  std::printf("report: %s\n", report.c_str());
  std::printf("run dir: %s (summary.json, log.jsonl, report.html, last.safetensors%s)\n",
              run_dir.c_str(), best_acc >= 0 ? ", best.safetensors" : "");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return mpq::examples::run_main(run, argc, argv);
}
