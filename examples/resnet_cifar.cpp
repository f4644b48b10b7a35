// ResNet for CIFAR-10 (or Fashion-MNIST) with learned mixed precision: the
// procedure of Uhlich et al. (ICLR 2020), end to end (examples/experiment.h
// runs it; this file supplies the data and the paper's CIFAR-10 targets).
// Each epoch is logged (stdout, RUN_DIR/log.jsonl); RUN_DIR/last.safetensors
// is written after every epoch and RUN_DIR/best.safetensors whenever the test
// accuracy improves while every memory target is met. --resume continues a
// killed run from last.safetensors. The end writes RUN_DIR/summary.json.
#include <algorithm>
#include <cstdio>
#include <memory>

#include "core/rng.h"
#include "data/cifar.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/transforms.h"
#include "examples/args.h"
#include "examples/experiment.h"
#include "examples/loader_source.h"

using namespace mpq;

namespace {

// ---------------------------------------------------------------- data ----

struct Data {
  std::string name;
  std::shared_ptr<const data::Dataset> train, test;  // uint8 images, [C, 32, 32] or [28, 28]
  std::int64_t channels = 0;
};

// The first `limit` rows of a split (all when limit is 0).
std::shared_ptr<const data::Dataset> first_rows(const Tensor& images, const Tensor& labels,
                                                std::int64_t limit) {
  const std::int64_t n = limit > 0 ? std::min(limit, images.shape()[0]) : images.shape()[0];
  return std::make_shared<data::TensorDataset>(images.narrow(0, 0, n), labels.narrow(0, 0, n));
}

Data load_data(const std::string& cifar_dir, const std::string& fashion_dir, std::int64_t limit,
               std::int64_t test_limit) {
  Data d;
  if (!cifar_dir.empty()) {
    const data::CifarSplit tr = data::load_cifar10(cifar_dir, true),
                           te = data::load_cifar10(cifar_dir, false);
    d.name = "CIFAR-10";
    d.train = first_rows(tr.images, tr.labels, limit);
    d.test = first_rows(te.images, te.labels, test_limit);
    d.channels = 3;
  } else {
    const data::MnistSplit tr = data::load_mnist(fashion_dir, true),
                           te = data::load_mnist(fashion_dir, false);
    d.name = "Fashion-MNIST";
    MPQ_CHECK(tr.images.shape()[1] <= 32 && tr.images.shape()[2] <= 32, "images of ",
              tr.images.shape()[1], "x", tr.images.shape()[2], " do not fit 32x32");
    d.train = first_rows(tr.images, tr.labels, limit);
    d.test = first_rows(te.images, te.labels, test_limit);
    d.channels = 1;
  }
  return d;
}

// The paper's CIFAR input (docs/method.md section 6): an image smaller than
// 32x32 (Fashion-MNIST's 28x28) centred in a 32x32 frame of black pixels,
// then, for training, pad 4 + random 32x32 crop and a horizontal flip; pixels
// scaled to [-1, 1] by (x / 255 - 0.5) * 2.
data::Transform framed(data::Transform t) {
  return [t = std::move(t)](const Tensor& image, Generator& gen) {
    return t(data::center_crop(image, 32, 32), gen);
  };
}

// Training draws the order and every sample's crop and flip from one
// generator per epoch (Randomness::epoch_stream), sample after sample, the
// stream this program has always used, so that runs stay comparable.
std::unique_ptr<train::BatchSource> train_source(std::shared_ptr<const data::Dataset> set,
                                                 std::int64_t batch, const data::Shard& shard) {
  data::LoaderOptions o;
  o.shard = shard;
  o.batch_size = batch;
  o.randomness = data::Randomness::epoch_stream;
  return std::make_unique<examples::LoaderSource>(std::move(set),
                                                  framed(data::cifar_train_transform()), o);
}

// Evaluation in order, in batches of 500: the batch size does not change the results.
std::unique_ptr<train::BatchSource> test_source(std::shared_ptr<const data::Dataset> set,
                                                const data::Shard& shard) {
  data::LoaderOptions o;
  o.shard = shard;
  o.batch_size = 500;
  o.shuffle = false;
  return std::make_unique<examples::LoaderSource>(std::move(set),
                                                  framed(data::cifar_eval_transform()), o);
}

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
  e.load = [](const examples::Args& a, std::int64_t batch, const data::Shard& shard) {
    Data d = load_data(a.str("data"), a.str("fashion-dir"), a.integer("train-limit", 0, 1 << 30),
                       a.integer("test-limit", 0, 1 << 30));
    examples::ExperimentData out;
    out.name = d.name;
    char buf[256];
    std::snprintf(
        buf, sizeof buf, "%s (%lld train, %lld test images, %lld channel%s, 32x32)%s",
        d.name.c_str(), static_cast<long long>(d.train->size()),
        static_cast<long long>(d.test->size()), static_cast<long long>(d.channels),
        d.channels == 1 ? "" : "s",
        d.name == "Fashion-MNIST" ? "  <- not CIFAR-10: pass --data DIR for CIFAR-10" : "");
    out.description = buf;
    out.input = {1, d.channels, 32, 32};
    out.num_classes = 10;
    out.train = train_source(d.train, batch, shard);
    out.test = test_source(d.test, shard);
    return out;
  };
  return examples::run_experiment(e, args);
}

}  // namespace

int main(int argc, char** argv) {
  return mpq::examples::run_main(run, argc, argv);
}
