// Trains a LeNet-style network on Fashion-MNIST (or MNIST) with mpq's engine.
//
// Deliberately the minimal single-file training loop: it uses neither
// models::LeNet5 nor train::Trainer (nor run folders, checkpoints or
// quantizers), only tensors, ops, autograd and an optimizer, so that one
// readable file shows what a training step is made of. The framework's own
// loop is train::Trainer, run by examples/experiment.h (resnet_cifar,
// imagenet); this program is not a template for those.
//
//   conv 5x5 1->16 pad 2, BN, ReLU, maxpool 2   -> 16 x 14 x 14
//   conv 5x5 16->32,      BN, ReLU, maxpool 2   -> 32 x 5 x 5
//   flatten, linear 800 -> 10, softmax cross-entropy
// SGD with momentum; the learning rate follows a cosine from --lr to 0 over
// the run. Inputs are scaled to [0, 1] and normalised with the training set's
// mean and standard deviation.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <numbers>

#include "core/autograd.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "core/stopwatch.h"
#include "data/idx.h"
#include "examples/args.h"
#include "ops/batch_norm.h"
#include "ops/conv2d.h"
#include "ops/cross_entropy.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/pool.h"
#include "ops/reduce.h"
#include "train/optimizer.h"

using namespace mpq;

namespace {

struct ConvBn {
  Tensor weight, gamma, beta, running_mean, running_var;
  ConvBn(std::int64_t in, std::int64_t out, std::int64_t k, Generator& gen)
      : weight(empty({out, in, k, k})),
        gamma(ones({out})),
        beta(zeros({out})),
        running_mean(zeros({out})),
        running_var(ones({out})) {
    kaiming_normal_(weight, std::numbers::sqrt2, gen);
    weight.set_requires_grad(true);
    gamma.set_requires_grad(true);
    beta.set_requires_grad(true);
  }
  Tensor forward(const Tensor& x, std::int64_t pad, bool training) const {
    Conv2dParams p;
    p.padding = {pad, pad};
    Tensor y = conv2d(x, weight, Tensor(), p);
    y = batch_norm2d(y, gamma, beta, running_mean, running_var, training);
    return max_pool2d(relu(y), Pool2dParams{});
  }
};

struct LeNet {
  ConvBn c1, c2;
  Tensor fc_w, fc_b;
  explicit LeNet(Generator& gen)
      : c1(1, 16, 5, gen), c2(16, 32, 5, gen), fc_w(empty({10, 800})), fc_b(zeros({10})) {
    xavier_uniform_(fc_w, 1.0, gen);
    fc_w.set_requires_grad(true);
    fc_b.set_requires_grad(true);
  }
  Tensor forward(const Tensor& x, bool training) const {
    Tensor h = c1.forward(x, 2, training);
    h = c2.forward(h, 0, training);
    return linear(h.flatten(1), fc_w, fc_b);
  }
  std::vector<Tensor> parameters() const {
    return {c1.weight, c1.gamma, c1.beta, c2.weight, c2.gamma, c2.beta, fc_w, fc_b};
  }
};

// uint8 [N, 28, 28] -> float32 [N, 1, 28, 28], (x/255 - mean) / std
Tensor normalise(const Tensor& images, double mean, double stddev) {
  const std::int64_t n = images.shape()[0], h = images.shape()[1], w = images.shape()[2];
  Tensor x = images.to(DType::f32).reshape({n, 1, h, w});
  return mul(add(x, -255.0 * mean), 1.0 / (255.0 * stddev));
}

// Copies rows idx[begin, end) of src into dst ([end-begin, ...] contiguous).
void gather_rows(const Tensor& src, const std::int32_t* idx, std::int64_t begin, std::int64_t end,
                 Tensor& dst) {
  const std::int64_t row = src.numel() / src.shape()[0];
  const std::size_t bytes = row * dtype_size(src.dtype());
  for (std::int64_t i = begin; i < end; ++i)
    std::memcpy(static_cast<char*>(dst.raw_data()) + (i - begin) * bytes,
                static_cast<const char*>(src.raw_data()) + idx[i] * bytes, bytes);
}

struct EvalResult {
  double loss, accuracy;
};

EvalResult evaluate(const LeNet& net, const Tensor& images, const Tensor& labels) {
  NoGradGuard no_grad;
  const std::int64_t n = images.shape()[0], batch = 1000;
  double loss = 0;
  std::int64_t correct = 0;
  for (std::int64_t b = 0; b < n; b += batch) {
    const std::int64_t m = std::min(batch, n - b);
    Tensor x = images.narrow(0, b, m), y = labels.narrow(0, b, m);
    Tensor logits = net.forward(x, false);
    loss += cross_entropy(logits, y).item() * m;
    const auto pred = argmax(logits, 1).to_vector<std::int32_t>();
    const auto truth = y.to_vector<std::int32_t>();
    for (std::int64_t i = 0; i < m; ++i) correct += pred[i] == truth[i];
  }
  return {loss / n, 100.0 * correct / n};
}

void progress(int epoch, int epochs, std::int64_t done, std::int64_t total, double loss, double acc,
              double seconds) {
  const int width = 30;
  const int filled = static_cast<int>(width * done / total);
  const double rate = done / std::max(seconds, 1e-9);
  std::fprintf(
      stderr, "\repoch %d/%d [%.*s%*s] %3d%%  loss %.4f  acc %5.2f%%  %5.0f img/s  ETA %3.0fs ",
      epoch, epochs, filled, "##############################", width - filled, "",
      static_cast<int>(100 * done / total), loss, acc, rate, (total - done) / std::max(rate, 1e-9));
  std::fflush(stderr);
}

int run(int argc, char** argv) {
  examples::Args args(
      "lenet_fashion_mnist",
      "Trains a LeNet-style CNN (conv-BN-ReLU-pool x2, linear) on Fashion-MNIST with\n"
      "SGD + momentum and reports per-epoch loss/accuracy and the final test accuracy.");
  args.add("data", "/usr/share/datasets/fashion-mnist",
           "folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]");
  args.add("epochs", "2", "number of passes over the training set");
  args.add("batch-size", "64", "images per SGD step");
  args.add("lr", "0.05", "initial learning rate (cosine decay to 0)");
  args.add("momentum", "0.9", "SGD momentum");
  args.add("weight-decay", "0.0005", "L2 weight decay");
  args.add("seed", "1", "random seed (initialisation and shuffling)");
  args.add("threads", "0", "threads for mpq and oneDNN (0: all cores)");
  args.add("train-limit", "0", "use only the first N training images (0: all)");
  if (!args.parse(argc, argv)) return 0;
  const std::string dir = args.str("data");
  const int epochs = static_cast<int>(args.integer("epochs", 1, 1000));
  const std::int64_t batch = args.integer("batch-size", 1, 60000);
  const double lr = args.real("lr", 0.0, 10.0);
  const std::int64_t threads = args.integer("threads", 0, 1024);
  const std::int64_t limit = args.integer("train-limit", 0, 1 << 30);
  if (threads > 0) set_num_threads(static_cast<int>(threads));

  data::MnistSplit train = data::load_mnist(dir, true);
  data::MnistSplit test = data::load_mnist(dir, false);
  if (limit > 0 && limit < train.images.shape()[0]) {
    train.images = train.images.narrow(0, 0, limit).contiguous();
    train.labels = train.labels.narrow(0, 0, limit).contiguous();
  }
  // Normalisation statistics of the training images.
  const Tensor train_f = train.images.to(DType::f32);
  const double mean_px = mean(train_f).item() / 255.0;
  const double std_px = std::sqrt(mean(pow(add(train_f, -255.0 * mean_px), 2.0)).item()) / 255.0;
  const Tensor x_train = normalise(train.images, mean_px, std_px);
  const Tensor x_test = normalise(test.images, mean_px, std_px);
  const std::int64_t n = x_train.shape()[0];
  std::printf("Fashion-MNIST from %s: %lld train, %lld test images; %d threads\n", dir.c_str(),
              static_cast<long long>(n), static_cast<long long>(x_test.shape()[0]), num_threads());

  Generator gen(static_cast<std::uint64_t>(args.integer("seed", 0, INT64_MAX)));
  LeNet net(gen);
  train::Sgd opt(net.parameters(), {lr, args.real("momentum", 0.0, 0.999),
                                    args.real("weight-decay", 0.0, 1.0), false});
  const bool tty = isatty(fileno(stderr));
  const std::int64_t steps_per_epoch = (n + batch - 1) / batch;
  const std::int64_t total_steps = steps_per_epoch * epochs;
  std::int64_t step = 0;
  Tensor xb = empty({batch, 1, 28, 28}), yb = empty({batch}, DType::i32);

  for (int epoch = 1; epoch <= epochs; ++epoch) {
    const Stopwatch epoch_time;
    const Tensor perm = randperm(n, gen);
    const std::int32_t* idx = perm.data<std::int32_t>();
    double loss_sum = 0;
    std::int64_t correct = 0, seen = 0;
    for (std::int64_t b = 0; b < n; b += batch, ++step) {
      const std::int64_t m = std::min(batch, n - b);
      Tensor x = m == batch ? xb : empty({m, 1, 28, 28});
      Tensor y = m == batch ? yb : empty({m}, DType::i32);
      gather_rows(x_train, idx, b, b + m, x);
      gather_rows(train.labels, idx, b, b + m, y);
      opt.set_lr(0.5 * lr * (1 + std::cos(std::numbers::pi * step / total_steps)));
      Tensor logits = net.forward(x, true);
      Tensor loss = cross_entropy(logits, y);
      const double l = loss.item();
      MPQ_CHECK(std::isfinite(l), "training diverged: loss is ", l, " at epoch ", epoch, " step ",
                step, " (try a smaller --lr)");
      opt.zero_grad();
      loss.backward();
      opt.step();
      loss_sum += l * m;
      seen += m;
      const auto pred = argmax(logits, 1).to_vector<std::int32_t>();
      const auto truth = y.to_vector<std::int32_t>();
      for (std::int64_t i = 0; i < m; ++i) correct += pred[i] == truth[i];
      const double secs = epoch_time.seconds();
      if (tty && (step % 10 == 0 || b + m == n))
        progress(epoch, epochs, seen, n, loss_sum / seen, 100.0 * correct / seen, secs);
    }
    const double secs = epoch_time.seconds();
    if (tty) std::fprintf(stderr, "\r\033[K");
    const EvalResult ev = evaluate(net, x_test, test.labels);
    std::printf(
        "epoch %d/%d  train loss %.4f  train acc %.2f%%  test loss %.4f  test acc %.2f%%  %.1fs  "
        "%.0f img/s\n",
        epoch, epochs, loss_sum / seen, 100.0 * correct / seen, ev.loss, ev.accuracy, secs,
        seen / secs);
    std::fflush(stdout);
  }
  const EvalResult final_ev = evaluate(net, x_test, test.labels);
  std::printf("final test accuracy: %.2f%%\n", final_ev.accuracy);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return mpq::examples::run_main(run, argc, argv);
}
