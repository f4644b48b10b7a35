// mpq bench-step: times the steady-state training (or inference) step of a zoo
// model on generated data, so that anyone can compare mpq against a baseline of
// their own on the same machine.

#include <algorithm>
#include <cstdio>
#include <vector>

#include "core/allocator.h"
#include "core/autograd.h"
#include "core/backend.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "core/stopwatch.h"
#include "examples/args.h"
#include "examples/mpq/cli_util.h"
#include "examples/mpq/commands.h"
#include "models/zoo.h"
#include "ops/cross_entropy.h"
#include "train/optimizer.h"

namespace mpq::cli {

int bench_step_command(int argc, char** argv) {
  examples::Args args(
      "mpq bench-step",
      "Times the steady-state step of a zoo model on generated data (normal inputs,\n"
      "uniform labels): forward, cross-entropy, backward and an SGD step with momentum\n"
      "0.9 when training; a no-grad forward in eval mode with --eval. The first\n"
      "--warmup steps create the cached primitives and buffers and are not timed.\n\n"
      "With --quant U3 (or any of U1..U3, P1..P3) every weight and all activations get a\n"
      "learned quantizer of that parametrization (4-bit initialisation), as in the\n"
      "paper's experiments; --quant none trains the float network.\n\n"
      "The last line is machine-readable:\n"
      "  images_per_s=<number> peak_rss_mb=<number>\n\n"
      "Example:\n  mpq bench-step --model resnet20 --batch 128 --quant U3 --steps 20");
  args.add("model", "resnet20", "a zoo model (resnet20, resnet32, resnet56, resnet18, ...)");
  args.add("batch", "128", "images per step");
  args.add("quant", "none", "none, or the parametrization of every quantizer (U1..U3, P1..P3)");
  args.add_switch("eval", "time inference (eval mode, no gradients) instead of training");
  args.add("steps", "20", "timed steps");
  args.add("warmup", "3", "untimed steps before timing");
  args.add("threads", "0", "threads for oneDNN and mpq's kernels (0: OpenMP's default)");
  args.add("seed", "0", "seed of the model and the generated data");
  args.add("in-channels", "0",
           "input channels (0: the model's usual, 3 for the ResNets; the main job's Fashion-MNIST "
           "runs have 1)");
  args.add("device", "cpu", "cpu, cuda or cuda:N");
  args.add_switch("tf32", "CUDA: allow TF32 tensor cores for float32 convolutions and matmuls");
  args.add_switch("print-loss",
                  "print every step's training loss (a fixed-seed curve to compare builds)");
  if (!args.parse(argc, argv)) return 0;
  const std::string name = args.str("model"), quant_name = args.str("quant");
  const std::int64_t batch = args.integer("batch", 1, 1 << 16);
  const std::int64_t steps = args.integer("steps", 1, 1 << 20);
  const std::int64_t warmup = args.integer("warmup", 0, 1 << 20);
  const std::int64_t threads = args.integer("threads", 0, 1024);
  const bool eval = args.on("eval"), print_loss = args.on("print-loss");
  if (threads > 0) set_num_threads(static_cast<int>(threads));
  const Device device = Device::parse(args.str("device"));
  require_device(device, "mpq bench-step");
  set_allow_tf32(args.on("tf32"));

  models::ModelOptions o;
  o.seed = static_cast<std::uint64_t>(args.integer("seed", 0, std::int64_t{1} << 62));
  o.in_channels = args.integer("in-channels", 0, 64);
  if (quant_name != "none")
    o.quant = models::QuantConfig::learned(quant::parse_parametrization(quant_name), 4, 4);
  auto model = models::make_model(name, o);
  Shape in_shape = models::model_input_shape(name, o.in_channels);
  in_shape[0] = batch;
  const std::int64_t classes = [&] {
    NoGradGuard ng;
    model->eval();
    Shape one = in_shape;
    one[0] = 1;
    return model->forward(zeros(one)).shape()[1];
  }();

  Generator gen(o.seed + 1);
  const Tensor x = randn(in_shape, 0.0, 1.0, gen).to(device);
  Tensor y_host = empty({batch}, DType::i32);
  for (std::int64_t i = 0; i < batch; ++i)
    y_host.data<std::int32_t>()[i] =
        static_cast<std::int32_t>(gen.below(static_cast<std::uint64_t>(classes)));
  const Tensor y = y_host.to(device);
  model->to(device);
  train::SgdOptions so;
  so.lr = 0.01;
  so.momentum = 0.9;
  train::Sgd opt(model->parameters(), so);
  if (eval)
    model->eval();
  else
    model->train();

  std::int64_t step_index = 0;
  auto step = [&] {
    if (eval) {
      NoGradGuard ng;
      model->forward(x);
      return;
    }
    const Tensor loss = cross_entropy(model->forward(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (print_loss)
      std::printf("step %lld loss %.9g\n", static_cast<long long>(step_index), loss.item());
    ++step_index;
  };
  // A step on a GPU is timed until its kernels have finished.
  auto finish = [&] { synchronize(device); };
  auto stats = [&] { return memory_stats(device); };
  for (std::int64_t s = 0; s < warmup; ++s) step();
  finish();
  // Tensor memory comes from the caching allocator: in the steady state every
  // buffer should be a reused block (no system allocation per step).
  const AllocatorStats before = stats();
  std::vector<double> times;
  for (std::int64_t s = 0; s < steps; ++s) {
    const Stopwatch step_time;
    step();
    finish();
    times.push_back(step_time.seconds());
  }
  const AllocatorStats after = stats();
  double total = 0;
  for (double t : times) total += t;
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  std::printf("%s batch %lld, %s, %s, %s, %d threads: %lld steps, median %.2f ms, mean %.2f ms\n",
              name.c_str(), static_cast<long long>(batch), quant_name.c_str(),
              eval ? "inference" : "training", device.str().c_str(), num_threads(),
              static_cast<long long>(steps), median * 1e3,
              total / static_cast<double>(steps) * 1e3);
  std::printf(
      "tensor allocations in the timed steps: %llu, of which from the system: %llu\n",
      static_cast<unsigned long long>(after.allocations - before.allocations),
      static_cast<unsigned long long>(after.system_allocations - before.system_allocations));
  // On a GPU the device memory mpq's allocator held at its peak follows.
  std::printf("images_per_s=%.1f peak_rss_mb=%.1f", static_cast<double>(batch * steps) / total,
              peak_rss_mb());
  if (!device.is_cpu())
    std::printf(" peak_device_mb=%.1f",
                static_cast<double>(memory_stats(device).peak_bytes_in_use) / (1024.0 * 1024.0));
  std::printf("\n");
  return 0;
}

}  // namespace mpq::cli
