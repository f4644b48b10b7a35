// The settings of one experiment (resnet_cifar, imagenet), typed and checked.
//
// A run's settings come from three sources, all layered into examples::Args
// before anything reads them: the command line, an INI preset (--config,
// --experiment) for the flags not given, and on --resume the run's
// config.json (the run folder checks it against the flags given). Then
// parse_experiment_config reads them once into an ExperimentConfig: the one
// place for every range, every name and every combination that is refused,
// so that the code after it sees enums and checked numbers, never flag text.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/device.h"
#include "examples/args.h"
#include "models/quantized.h"
#include "quant/spec.h"

namespace mpq::train {
class RunFolder;
}

namespace mpq::examples {

// --mode: what the quantized phase trains.
enum class Mode {
  float_network,  // "float": no quantized phase
  fixed,          // fixed bitwidths (--wbits, --abits)
  learn_qmax,     // the paper's baseline: bitwidth fixed, q_max learned
  learned,        // trained quantizers, starting at --bits
};
// --quantize: which tensors the quantized phase quantizes.
enum class Quantized { weights, all };
enum class OptimizerKind { sgd, adam };

// The flag's spelling of each (summary.json records them so).
std::string_view mode_name(Mode mode);
std::string_view quantized_name(Quantized quantize);

// A memory target flag: 'none', 'auto' (from the program's AutoTargets) or kB.
// 'auto' on tensors that stay float reads as 'none'.
struct MemoryTarget {
  enum class Kind { none, automatic, kb };
  Kind kind = Kind::none;
  double kb = 0;
  // The target in kB (none: no target); `automatic_kb` is the 'auto' value.
  std::optional<double> resolve(double automatic_kb) const;
};

// The quantizers the quantized phase starts from: the same kind for weights
// and activations (--bits in the learned mode; --wbits and --abits in the
// fixed and learn-qmax ones).
struct QuantizerSettings {
  quant::Parametrization param{};
  double wbits = 0, abits = 0;
};

// One training phase's length and learning rate over it.
struct PhaseSchedule {
  int epochs = 0;
  double lr = 0;
  std::string schedule;  // train::Schedule::parse syntax, checked
  double warmup = 0;     // epochs of linear warmup (--warmup, both phases)
};

struct ExperimentConfig {
  Mode mode = Mode::learned;
  Quantized quantize = Quantized::all;
  OptimizerKind optimizer = OptimizerKind::sgd;
  std::string model;
  QuantizerSettings quantizers;
  PhaseSchedule float_phase, quant_phase;
  std::int64_t batch_size = 0;
  double weight_decay = 0, momentum = 0, lambda = 0;
  MemoryTarget weight_target, act_max_target, act_sum_target;
  std::uint64_t seed = 0;
  std::string float_init;       // --float-init: a float.safetensors to start from ("": train)
  std::string experiment;       // --experiment: the preset's section ("": none)
  bool sync_batch_norm = true;  // --sync-bn (several processes only)
  // Per process: a resumed run may change these.
  int threads = 0;
  int trajectory_points = 50;  // --trajectory-points (train::PhaseOptions)
  std::int64_t stop_after = 0;
  Device device;

  bool quantizes_weights() const { return mode != Mode::float_network; }
  bool quantizes_activations() const { return quantizes_weights() && quantize == Quantized::all; }
};

// The flags that do not change a run's results: config.json does not keep
// them, and --resume accepts other values for them.
const std::set<std::string>& per_process_flags();

// Reads the flags once they are final; throws mpq::Error naming the flag for
// any value out of range, unknown name, flag the mode ignores or target on
// tensors that stay float. `models`: the program's --model choices.
ExperimentConfig parse_experiment_config(const std::string& program,
                                         const std::vector<std::string>& models, const Args& args);

// Layers the sources into `args` (the command line, then on --resume the
// run's config.json, checked by `run`, then the --config preset) and parses
// the result. `per_process`: per_process_flags() and the program's own.
// Reads files only.
ExperimentConfig load_experiment_config(const std::string& program,
                                        const std::vector<std::string>& models,
                                        const std::set<std::string>& per_process, Args& args,
                                        const train::RunFolder& run);

struct ExperimentDefaults {
  std::string model, model_help;  // --model's default and help line
  int float_epochs = 2, epochs = 2;
  std::int64_t batch_size = 128;
  double float_lr = 0.1, lr = 0.02, weight_decay = 2e-4;
  double wbits = 2, abits = 4;  // bitwidths of the fixed and learn-qmax modes
};

// The quantizers of the quantized network: the same kind for weights and
// activations; fixed and learn-qmax use the uniform or power-of-two baseline
// that matches the parametrization.
models::QuantConfig quant_config(const ExperimentConfig& c);

// Declares the flags every experiment has.
void add_experiment_flags(Args& args, const ExperimentDefaults& defaults);

}  // namespace mpq::examples
