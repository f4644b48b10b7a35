#include "examples/experiment_config.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "train/distributed.h"
#include "train/run_folder.h"
#include "train/schedule.h"

namespace mpq::examples {

namespace {

std::string fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

std::string_view mode_name(Mode mode) {
  switch (mode) {
    case Mode::float_network:
      return "float";
    case Mode::fixed:
      return "fixed";
    case Mode::learn_qmax:
      return "learn-qmax";
    case Mode::learned:
      return "learned";
  }
  return "?";
}

std::string_view quantized_name(Quantized quantize) {
  return quantize == Quantized::all ? "all" : "weights";
}

std::optional<double> MemoryTarget::resolve(double automatic_kb) const {
  switch (kind) {
    case Kind::none:
      return std::nullopt;
    case Kind::automatic:
      return automatic_kb;
    case Kind::kb:
      return kb;
  }
  return std::nullopt;
}

const std::set<std::string>& per_process_flags() {
  static const std::set<std::string> flags{"resume",     "run-dir", "threads",
                                           "stop-after", "device",  "trajectory-points"};
  return flags;
}

ExperimentConfig parse_experiment_config(const std::string& prog,
                                         const std::vector<std::string>& models, const Args& args) {
  ExperimentConfig c;
  // The checks run in the order of the error messages' tests: the first
  // failing one is the one reported.
  const std::string mode = args.str("mode"), quantize = args.str("quantize");
  MPQ_CHECK(mode == "learned" || mode == "fixed" || mode == "learn-qmax" || mode == "float", prog,
            ": --mode must be learned, fixed, learn-qmax or float, got '", mode, "'");
  MPQ_CHECK(quantize == "all" || quantize == "weights", prog,
            ": --quantize must be all or weights, got '", quantize, "'");
  c.mode = mode == "float"        ? Mode::float_network
           : mode == "fixed"      ? Mode::fixed
           : mode == "learn-qmax" ? Mode::learn_qmax
                                  : Mode::learned;
  c.quantize = quantize == "all" ? Quantized::all : Quantized::weights;
  const bool learned = c.mode == Mode::learned;
  const bool fixed_bits = c.mode == Mode::fixed || c.mode == Mode::learn_qmax;
  // A bitwidth flag the mode does not read would be silently ignored.
  for (const std::string flag : {"bits", "wbits", "abits"}) {
    const bool used = flag == "bits" ? learned : fixed_bits;
    MPQ_CHECK(used || !args.given(flag), prog, ": --", flag, " has no effect with --mode ", mode,
              flag == "bits" ? " (--bits is the learned mode's initial bitwidth)"
                             : " (--wbits and --abits set the fixed and learn-qmax "
                               "modes' bitwidths; the learned mode starts at --bits)");
  }
  c.quantizers.wbits = learned ? args.real("bits", 2, 8) : args.real("wbits", 2, 8);
  c.quantizers.abits = learned ? args.real("bits", 1, 8) : args.real("abits", 1, 8);
  const std::string optimizer = args.str("optimizer");
  MPQ_CHECK(optimizer == "sgd" || optimizer == "adam", prog,
            ": --optimizer must be sgd or adam, got '", optimizer, "'");
  c.optimizer = optimizer == "sgd" ? OptimizerKind::sgd : OptimizerKind::adam;
  c.model = args.str("model");
  {
    std::string names;
    for (const auto& m : models) names += (names.empty() ? "" : ", ") + m;
    MPQ_CHECK(std::find(models.begin(), models.end(), c.model) != models.end(), prog,
              ": --model must be one of ", names, ", got '", c.model, "'");
  }
  c.quantizers.param = quant::parse_parametrization(args.str("param"));
  c.float_phase.epochs = static_cast<int>(args.integer("float-epochs", 0, 10000));
  c.quant_phase.epochs = static_cast<int>(args.integer("epochs", 0, 10000));
  c.batch_size = args.integer("batch-size", 2, 65536);
  c.weight_decay = args.real("weight-decay", 0, 1);
  c.momentum = args.real("momentum", 0, 0.999);
  c.float_phase.lr = args.real("float-lr", 0, 1e30);
  c.quant_phase.lr = args.real("lr", 0, 1e30);
  c.float_phase.warmup = c.quant_phase.warmup = args.real("warmup", 0, 1e6);
  c.seed = static_cast<std::uint64_t>(args.integer("seed", 0, INT64_MAX));
  c.stop_after = args.integer("stop-after", 0, 1 << 30);
  c.threads = static_cast<int>(args.integer("threads", 0, 1024));
  c.trajectory_points = static_cast<int>(args.integer("trajectory-points", 0, 1000000));
  c.device = Device::parse(args.str("device"));
  c.lambda = args.real("lambda", 0, 1e6);
  const std::string sync_bn = args.str("sync-bn");
  MPQ_CHECK(sync_bn == "on" || sync_bn == "off", prog, ": --sync-bn must be on or off, got '",
            sync_bn, "'");
  c.sync_batch_norm = sync_bn == "on";
  c.float_phase.schedule = args.str("float-schedule");
  c.quant_phase.schedule = args.str("schedule");
  for (const PhaseSchedule* p : {&c.float_phase, &c.quant_phase})
    train::Schedule::parse(p->schedule, p->lr, std::max(p->epochs, 1));
  // A memory target on tensors that stay float (weights in float mode,
  // activations with --quantize weights) could never be met: a number is
  // refused, and 'auto' means none.
  auto target = [&](const char* flag, bool quantized) {
    const std::string v = args.str(flag);
    MemoryTarget t;
    if (v == "none") return t;
    MPQ_CHECK(quantized || v == "auto", prog, ": --", flag,
              " targets tensors that stay float with --mode ", mode, " --quantize ", quantize);
    if (!quantized) return t;
    if (v == "auto") {
      t.kind = MemoryTarget::Kind::automatic;
    } else {
      t.kind = MemoryTarget::Kind::kb;
      t.kb = args.real(flag, 0, 1e12);
    }
    return t;
  };
  c.weight_target = target("weight-target", c.quantizes_weights());
  c.act_max_target = target("act-max-target", c.quantizes_activations());
  c.act_sum_target = target("act-sum-target", c.quantizes_activations());
  c.float_init = args.str("float-init");
  c.experiment = args.str("experiment");
  return c;
}

ExperimentConfig load_experiment_config(const std::string& prog,
                                        const std::vector<std::string>& models,
                                        const std::set<std::string>& per_process, Args& args,
                                        const train::RunFolder& run) {
  if (run.resuming()) {
    // A resumed run takes every setting from its config.json (given flags
    // must agree with it).
    const std::map<std::string, std::string> current = args.values();
    std::set<std::string> given;
    for (const auto& [k, v] : current)
      if (args.given(k)) given.insert(k);
    // --sync-bn came with data parallelism; earlier runs had one process,
    // where "on" changes nothing.
    args.apply_saved(run.read_config(current, given, per_process, {{"sync-bn", "on"}}));
  } else if (train::Distributed::get().is_root()) {  // the others would see rank 0's new folder
    run.check_fresh();
  }
  if (!args.str("config").empty()) {
    MPQ_CHECK(!args.str("experiment").empty(), prog, ": --config needs --experiment NAME");
    // These are read before the experiment file: a value there would be ignored.
    args.load_ini(args.str("config"), args.str("experiment"), {"run-dir", "resume", "stop-after"});
  } else {
    MPQ_CHECK(args.str("experiment").empty(), prog, ": --experiment needs --config FILE");
  }
  return parse_experiment_config(prog, models, args);
}

void add_experiment_flags(Args& args, const ExperimentDefaults& d) {
  args.add("config", "",
           "INI experiment file (e.g. examples/presets/paper.ini); flags given here win");
  args.add("experiment", "", "the section of --config to run (e.g. learned-w70-amax8)");
  args.add(
      "mode", "learned",
      "learned (trained quantizers), fixed (fixed bitwidths), learn-qmax (the paper's baseline:\n"
      "      bitwidth fixed, q_max learned) or float (no quantized phase)");
  args.add("quantize", "all", "all (weights and activations) or weights");
  args.add("wbits", fixed(d.wbits), "weight bitwidth of the fixed and learn-qmax modes");
  args.add("abits", fixed(d.abits), "activation bitwidth of the fixed and learn-qmax modes");
  args.add("model", d.model, d.model_help);
  args.add("param", "U3",
           "quantizer parametrization for weights and activations: U1 U2 U3 P1 P2 P3");
  args.add("float-epochs", std::to_string(d.float_epochs),
           "float pre-training epochs (0: start the quantized phase from scratch)");
  args.add("float-init", "",
           "take the float network from this checkpoint (e.g. RUN/float.safetensors) instead of "
           "training it");
  args.add("epochs", std::to_string(d.epochs), "quantized training epochs");
  args.add("batch-size", std::to_string(d.batch_size), "images per step");
  args.add("float-lr", fixed(d.float_lr), "float phase learning rate");
  args.add("lr", fixed(d.lr), "quantized phase learning rate (the paper: 0.01 to 0.03)");
  args.add("float-schedule", "cosine",
           "float phase schedule: constant, step:N, multistep:A,B, cosine");
  args.add("schedule", "cosine", "quantized phase schedule");
  args.add("momentum", "0.9", "SGD momentum");
  args.add("optimizer", "sgd",
           "sgd (the paper's, with --momentum) or adam (decoupled weight decay)");
  args.add("warmup", "0", "epochs of linear learning-rate warmup at the start of each phase");
  args.add("weight-decay", fixed(d.weight_decay),
           "weight decay on every parameter, quantizers and BN included (L2 with SGD, decoupled "
           "with Adam)");
  args.add("weight-target", "auto", "weight memory target in kB, 'auto' or 'none'");
  args.add("act-max-target", "auto", "largest-activation memory target in kB, 'auto' or 'none'");
  args.add("act-sum-target", "none", "sum-of-activations memory target in kB, 'auto' or 'none'");
  args.add("lambda", "0.1", "weight of the memory penalty");
  args.add("bits", "4", "initial bitwidth of the quantizers");
  args.add("run-dir", "", "output folder (default: runs/<date>-<time>)");
  args.add_switch("resume", "continue the run in --run-dir from its last.safetensors");
  args.add("seed", "1", "seed of initialisation, shuffling and augmentation");
  args.add("threads", "0",
           "threads per process (0: the machine's cores shared among this job's processes on it)");
  args.add("trajectory-points", "50",
           "records of every quantizer's b, d, q_max, q_min per phase in RUN_DIR/trajectory.jsonl, "
           "evenly spaced in steps (0: none)");
  args.add("sync-bn", "on",
           "on or off: with several processes (mpirun, srun), batch norm's training statistics "
           "over the whole batch (on) or each process's slice (off)");
  args.add("device", "cpu",
           "cpu, cuda or cuda:N: where the networks train (a run may resume on another device)");
  args.add("stop-after", "0",
           "stop after this many epochs (float + quantized) as if killed; for testing --resume");
}

// The quantizers of the quantized network: the same kind for weights and
// activations; fixed and learn-qmax use the uniform or power-of-two baseline
// that matches --param. (Float mode's quantized phase is a float network,
// but its 'auto' targets are measured on this one.)
models::QuantConfig quant_config(const ExperimentConfig& c) {
  const models::QuantMode qm = c.mode == Mode::fixed        ? models::QuantMode::fixed
                               : c.mode == Mode::learn_qmax ? models::QuantMode::learn_qmax
                                                            : models::QuantMode::learned;
  models::QuantConfig q;
  q.weights = {qm, c.quantizers.param, c.quantizers.wbits};
  if (c.quantize == Quantized::all) q.activations = {qm, c.quantizers.param, c.quantizers.abits};
  return q;
}

}  // namespace mpq::examples
