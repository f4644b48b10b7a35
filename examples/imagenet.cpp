// ResNet-18 or MobileNetV2 on ImageNet-style image folders with learned mixed
// precision: the paper's Table 4 experiment (examples/experiment.h runs it;
// this file supplies the data and the paper's ImageNet targets).
//
// Data: ROOT/train/<class>/<image> and ROOT/val/<class>/<image> (JPEG or
// PNG, data/image_folder.h), e.g. the ILSVRC-2012 images with the validation
// set sorted into class folders. Training input: random resized crop to
// --image-size, horizontal flip; evaluation: the shorter side resized to
// --image-size x 256/224, centre crop; both normalised with the ImageNet
// channel statistics (data/transforms.h). Batches are decoded and augmented
// on the loader's background threads (--workers) while the network trains.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>
#include <thread>

#include "data/image_folder.h"
#include "data/loader.h"
#include "examples/args.h"
#include "examples/experiment.h"
#include "examples/loader_source.h"

using namespace mpq;

namespace {

int run(int argc, char** argv) {
  examples::Args args(
      "imagenet",
      "Trains ResNet-18 or MobileNetV2 with learned mixed precision (Uhlich et al., ICLR 2020,\n"
      "Table 4) on image folders: --data ROOT holds ROOT/train/<class>/*.jpg and\n"
      "ROOT/val/<class>/*.jpg (ILSVRC-2012 with the validation images sorted into class\n"
      "folders). Float pre-training, then quantized training of every weight and activation\n"
      "under memory targets.\n\n"
      "Memory targets accept a number of kB, 'auto' (the paper's constrained Table 4 rows\n"
      "relative to its fixed 4/4 rows: weights at the 4-bit size x 5.40/5.57 for ResNet-18,\n"
      "x 1.55/1.65 for MobileNetV2; largest activation and sum of activations at their 4-bit\n"
      "sizes) or 'none'.\n\n"
      "A full run (docs/results.md, 'ImageNet recipe'):\n"
      "  imagenet --data ROOT --model resnet18 --batch-size 256 --float-epochs 90 \\\n"
      "           --float-schedule multistep:30,60 --weight-decay 1e-4 --epochs 30 --lr 0.01 \\\n"
      "           --schedule multistep:10,20");
  examples::ExperimentDefaults defaults;
  defaults.model = "resnet18";
  defaults.model_help = "resnet18 or mobilenet_v2";
  defaults.wbits = 4;
  defaults.abits = 4;
  defaults.batch_size = 64;
  defaults.weight_decay = 1e-4;
  examples::add_experiment_flags(args, defaults);
  args.add("data", "", "image-folder root with the train and val splits (required)");
  args.add("train-split", "train", "training split: the folder ROOT/<split>");
  args.add("val-split", "val", "evaluation split: the folder ROOT/<split>");
  args.add("image-size", "224", "training and evaluation crop (square)");
  args.add("train-limit", "0",
           "train on N images spread evenly over the class-sorted split (0: all)");
  args.add("test-limit", "0", "evaluate on N images spread evenly over the split (0: all)");
  args.add("max-image-pixels", std::to_string(data::kDefaultMaxImagePixels),
           "skip (with a warning) images of more pixels than this; read from the file's header "
           "before decoding");
  args.add("workers", "0",
           "threads that decode and augment images (0: 1 on the CPU, min(8, cores) with "
           "--device cuda); the batches do not depend on it");
  if (!args.parse(argc, argv)) return 0;

  examples::Experiment e;
  e.program = "imagenet";
  e.models = {"resnet18", "mobilenet_v2"};
  e.per_process_flags = {"workers"};
  // docs/method.md section 7, Table 4: the constrained rows' weight size against the fixed
  // 4/4 rows (ResNet-18 5.40 vs 5.57 MB, MobileNetV2 1.55 vs 1.65 MB) and
  // their largest activation equal to the 4-bit one (0.38 and 0.57 MB).
  e.auto_targets = [](const std::string& model) {
    examples::AutoTargets t;
    t.weight_bits = 4;
    t.weight_ratio = model == "mobilenet_v2" ? 1.55 / 1.65 : 5.40 / 5.57;
    t.act_bits = 4;
    t.act_max_ratio = 1.0;
    t.act_sum_ratio = 1.0;
    return t;
  };
  e.load = [](const examples::Args& a, std::int64_t batch, const data::Shard& shard) {
    const std::string root = a.str("data");
    MPQ_CHECK(!root.empty(),
              "imagenet: --data ROOT is required (ROOT/train/<class>/*.jpg, "
              "ROOT/val/<class>/*.jpg)");
    const std::int64_t size = a.integer("image-size", 8, 4096);
    const bool pin = Device::parse(a.str("device")).type == DeviceType::cuda;  // async copies
    // Decoding JPEGs on one thread cannot keep a GPU busy; on the CPU the
    // cores are training's.
    int workers = static_cast<int>(a.integer("workers", 0, 256));
    if (workers == 0)
      workers = pin ? static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 8u)) : 1;
    // torchvision's evaluation resize: 256 for a 224 crop.
    const auto resize =
        static_cast<std::int64_t>(std::lround(static_cast<double>(size) * 256.0 / 224.0));
    const std::int64_t max_pixels = a.integer("max-image-pixels", 1, INT32_MAX);
    auto train_folder = std::make_shared<data::ImageFolder>(root, a.str("train-split"),
                                                            std::vector<std::string>{}, max_pixels);
    auto val_folder = std::make_shared<data::ImageFolder>(root, a.str("val-split"),
                                                          train_folder->classes(), max_pixels);
    // A split of files that are not images stops here, not after an epoch of warnings.
    train_folder->check_decodable();
    val_folder->check_decodable();
    examples::ExperimentData out;
    std::ostringstream desc;
    desc << train_folder->summary() << "; " << val_folder->summary() << "; crops " << size << "x"
         << size;
    out.name = "image folder";
    out.description = desc.str();
    out.input = {1, 3, size, size};
    out.num_classes = static_cast<std::int64_t>(train_folder->classes().size());
    out.skipped_files = [train_folder, val_folder] {
      return train_folder->num_skipped() + val_folder->num_skipped();
    };
    data::LoaderOptions o;
    o.batch_size = batch;
    o.prefetch = 3;
    o.pin_memory = pin;
    o.workers = workers;
    o.shard = shard;
    out.train = std::make_unique<examples::LoaderSource>(
        examples::even_subset(train_folder, a.integer("train-limit", 0, INT64_MAX)),
        data::imagenet_train_transform(size), o);
    o.shuffle = false;
    out.test = std::make_unique<examples::LoaderSource>(
        examples::even_subset(val_folder, a.integer("test-limit", 0, INT64_MAX)),
        data::imagenet_eval_transform(resize, size), o);
    return out;
  };
  return examples::run_experiment(e, args);
}

}  // namespace

int main(int argc, char** argv) {
  return mpq::examples::run_main(run, argc, argv);
}
