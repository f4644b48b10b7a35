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
// its data and its 'auto' memory targets.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/shape.h"
#include "examples/args.h"
#include "quant/spec.h"
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

struct ExperimentDefaults {
  std::string model, model_help;  // --model's default and help line
  int float_epochs = 2, epochs = 2;
  std::int64_t batch_size = 128;
  double float_lr = 0.1, lr = 0.02, weight_decay = 2e-4;
  double wbits = 2, abits = 4;  // bitwidths of the fixed and learn-qmax modes
};

struct Experiment {
  std::string program;              // error messages and --resume checks
  std::vector<std::string> models;  // the --model choices
  std::function<AutoTargets(const std::string& model)> auto_targets;
  // Called once the flags are final (after --config and --resume).
  std::function<ExperimentData(const Args& args, std::int64_t batch_size)> load;
  // The program's own flags that do not change the results (like --threads):
  // --resume accepts other values for them.
  std::set<std::string> per_process_flags;
};

// A memory target flag: 'none', 'auto' (from the program's AutoTargets) or kB;
// 'none' too for 'auto' on tensors that stay float.
struct TargetSetting {
  enum class Kind { none, automatic, kb };
  Kind kind = Kind::none;
  double kb = 0;
};

// The experiment flags, read and checked (read_settings): one place for
// every range and every combination that is refused.
struct ExperimentSettings {
  std::string mode, quantize, optimizer, model;
  quant::Parametrization param{};
  int float_epochs = 0, epochs = 0, threads = 0;
  std::int64_t batch_size = 0, stop_after = 0;
  double weight_decay = 0, momentum = 0, float_lr = 0, lr = 0, warmup = 0, lambda = 0;
  double wbits = 0, abits = 0;  // the initial (learned) or fixed bitwidths the mode uses
  std::uint64_t seed = 0;
  Device device;
  std::string float_schedule, schedule;
  TargetSetting weight_target, act_max_target, act_sum_target;
};

// Reads the flags once they are final (after --config and --resume); throws
// mpq::Error naming the flag for any value out of range, unknown name, flag
// the mode ignores or target on tensors that stay float. `models`: the
// program's --model choices.
ExperimentSettings read_settings(const std::string& program, const std::vector<std::string>& models,
                                 const Args& args);

// Declares the flags every experiment has.
void add_experiment_flags(Args& args, const ExperimentDefaults& defaults);

// Runs the experiment the parsed flags describe; returns the exit code.
int run_experiment(const Experiment& experiment, Args& args);

}  // namespace mpq::examples
