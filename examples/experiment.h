// The command-line program around train::Trainer that resnet_cifar
// (CIFAR-10 / Fashion-MNIST) and imagenet (image folders) share: the flags of
// the paper's procedure, the run folder (config.json, --resume), the float
// phase (trained, or taken from --float-init), the quantized phase under
// memory targets, and the final summary and report.
//
//   1. train the float network (--float-epochs);
//   2. build the quantized network (every conv, FC weight and bias, every
//      ReLU output), copy the float weights in and initialise the quantizers
//      from them (docs/method.md section 4);
//   3. train it (--epochs) on cross-entropy + lambda relu(kB - target)^2 for
//      each memory target set.
// A program adds its data flags, then calls run_experiment with a loader for
// its data and its 'auto' memory targets. The settings are read into an
// ExperimentConfig (examples/experiment_config.h); the run folder's files
// belong to train::RunFolder (train/run_folder.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/shape.h"
#include "data/loader.h"
#include "examples/args.h"
#include "examples/experiment_config.h"
#include "train/trainer.h"

namespace mpq::examples {

struct ExperimentData {
  std::string name;         // summary.json's "dataset", e.g. "CIFAR-10"
  std::string description;  // printed as "dataset: <description>"
  std::unique_ptr<train::BatchSource> train, test;
  Shape input;                   // one sample as the model sees it: [1, C, H, W]
  std::int64_t num_classes = 0;  // 0: the model's usual
  // Files skipped so far because they could not be decoded (both splits);
  // empty for datasets read whole at start, which fail instead of skipping.
  std::function<std::int64_t()> skipped_files;
};

// 'auto' memory targets: multiples of the network's size at a fixed bitwidth
// (the paper's targets relative to its fixed-bitwidth baselines).
struct AutoTargets {
  double weight_bits = 2, weight_ratio = 70.1 / 65.5;  // weights
  double act_bits = 4, act_max_ratio = 8.1 / 8.0;      // largest activation
  double act_sum_ratio = 92.1 / 92.0;                  // sum of activations
};

struct Experiment {
  std::string program;              // error messages and --resume checks
  std::vector<std::string> models;  // the --model choices
  std::function<AutoTargets(const std::string& model)> auto_targets;
  // Called once the flags are final (after --config and --resume). Each
  // process reads its `shard` of every batch (data::Shard; one of one alone).
  std::function<ExperimentData(const Args& args, std::int64_t batch_size, const data::Shard& shard)>
      load;
  // The program's own flags that do not change the results (like --threads):
  // --resume accepts other values for them.
  std::set<std::string> per_process_flags;
};

// Runs the experiment the parsed flags describe; returns the exit code.
int run_experiment(const Experiment& experiment, Args& args);

}  // namespace mpq::examples
