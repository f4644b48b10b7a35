// ResNet for CIFAR-10 (or Fashion-MNIST) with learned mixed precision: the
// procedure of Uhlich et al. (ICLR 2020), end to end (examples/experiment.h
// runs it; this file supplies the data and the paper's CIFAR-10 targets).
// Each epoch is logged (stdout, RUN_DIR/log.jsonl); RUN_DIR/last.safetensors
// is written after every epoch and RUN_DIR/best.safetensors whenever the test
// accuracy improves while every memory target is met. --resume continues a
// killed run from last.safetensors. The end writes RUN_DIR/summary.json.
#include <algorithm>
#include <cstdio>

#include "core/rng.h"
#include "data/cifar.h"
#include "data/idx.h"
#include "examples/args.h"
#include "examples/experiment.h"

using namespace mpq;

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

// A split held in memory as one batch source: shuffled and augmented for
// training (the order and the augmentation draw from Generator(key)), in
// order and as views of the data for evaluation.
class TensorSource : public train::BatchSource {
 public:
  TensorSource(Tensor images, Tensor labels, std::int64_t batch, bool train)
      : images_(std::move(images)), labels_(std::move(labels)), batch_(batch), train_(train) {
    if (train_) {
      xb_ = empty({batch_, images_.shape()[1], 32, 32});
      yb_ = empty({batch_}, DType::i32);
    }
  }
  std::int64_t size() const override { return images_.shape()[0]; }
  std::int64_t batch_size() const override { return batch_; }
  void start_epoch(std::uint64_t key) override {
    pos_ = 0;
    if (!train_) return;
    gen_ = Generator(key);
    perm_ = randperm(size(), gen_);
  }
  bool next(Tensor& x, Tensor& y) override {
    const std::int64_t b = pos_, m = std::min(batch_, size() - b);
    if (m <= 0) return false;
    pos_ += m;
    if (!train_) {
      x = images_.narrow(0, b, m);
      y = labels_.narrow(0, b, m);
      return true;
    }
    // A full batch reuses the same buffers every step.
    x = m == batch_ ? xb_ : empty({m, images_.shape()[1], 32, 32});
    y = m == batch_ ? yb_ : empty({m}, DType::i32);
    make_batch(images_, labels_, perm_.data<std::int32_t>(), b, m, true, gen_, x, y);
    return true;
  }

 private:
  Tensor images_, labels_, xb_, yb_, perm_;
  std::int64_t batch_, pos_ = 0;
  bool train_;
  Generator gen_;
};

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
  examples::ExperimentDefaults defaults;
  defaults.model = "resnet20";
  defaults.model_help = "resnet20, resnet32 or resnet56";
  examples::add_experiment_flags(args, defaults);
  args.add("data", "", "CIFAR-10 binary folder; empty: Fashion-MNIST");
  args.add("fashion-dir", "/usr/share/datasets/fashion-mnist", "Fashion-MNIST IDX folder");
  args.add("train-limit", "0", "use only the first N training images (0: all)");
  args.add("test-limit", "0", "evaluate on the first N test images only (0: all)");
  if (!args.parse(argc, argv)) return 0;

  examples::Experiment e;
  e.program = "resnet_cifar";
  e.models = {"resnet20", "resnet32", "resnet56"};
  // docs/method.md sections 5 and 7: 70.1 kB for weights against 65.5 kB at 2 bits, 8.1 kB for the
  // largest activation and 92.1 kB for their sum against 8 and 92 kB at 4 bits.
  e.auto_targets = [](const std::string&) { return examples::AutoTargets{}; };
  e.load = [](const examples::Args& a, std::int64_t batch) {
    Data d = load_data(a.str("data"), a.str("fashion-dir"), a.integer("train-limit", 0, 1 << 30),
                       a.integer("test-limit", 0, 1 << 30));
    examples::ExperimentData out;
    out.name = d.name;
    char buf[256];
    std::snprintf(
        buf, sizeof buf, "%s (%lld train, %lld test images, %lld channel%s, 32x32)%s",
        d.name.c_str(), static_cast<long long>(d.train_x.shape()[0]),
        static_cast<long long>(d.test_x.shape()[0]), static_cast<long long>(d.channels),
        d.channels == 1 ? "" : "s",
        d.name == "Fashion-MNIST" ? "  <- not CIFAR-10: pass --data DIR for CIFAR-10" : "");
    out.description = buf;
    out.input = {1, d.channels, 32, 32};
    out.num_classes = 10;
    out.train = std::make_unique<TensorSource>(d.train_x, d.train_y, batch, true);
    // Evaluation in batches of 500: the batch size does not change the results.
    out.test = std::make_unique<TensorSource>(d.test_x, d.test_y, 500, false);
    return out;
  };
  return examples::run_experiment(e, args);
}

}  // namespace

int main(int argc, char** argv) {
  return mpq::examples::run_main(run, argc, argv);
}
