#include "examples/experiment.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <type_traits>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/parallel.h"
#include "core/stopwatch.h"
#include "models/quant_summary.h"
#include "models/zoo.h"
#include "quant/memory.h"
#include "train/checkpoint.h"
#include "train/json.h"
#include "train/mixed_precision.h"
#include "train/optimizer.h"
#include "train/report.h"
#include "train/schedule.h"

namespace mpq::examples {

using train::Json;

namespace {

std::string fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
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

// The entries of a checkpoint under `prefix` ("model." or "optim."), without it.
models::NamedTensors with_prefix(const train::Checkpoint& ck, const std::string& prefix) {
  models::NamedTensors out;
  for (const auto& [k, v] : ck.tensors)
    if (k.rfind(prefix, 0) == 0) out.emplace_back(k.substr(prefix.size()), v);
  return out;
}

Json opt_number(const std::optional<double>& v) {
  return v ? Json(*v) : Json();
}

// A whole-string integer (std::int64_t) or finite number (double) from a
// checkpoint's metadata (std::stoi would take "7x" as 7 and throw a bare
// "stoi" on "x").
template <class T>
T metadata_value(const train::Checkpoint& ck, const std::string& key, const std::string& path) {
  const std::string& text = ck.metadata.at(key);
  T v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  MPQ_CHECK(ec == std::errc() && end == text.data() + text.size() && std::isfinite(double(v)), path,
            ": metadata '", key, "' is '", text, "', not ",
            std::is_integral_v<T> ? "an integer" : "a finite number");
  return v;
}

// A checkpoint that names its model (mpq writes "model" into every one) must
// name this one: resnet20 weights do not become a resnet32.
void check_metadata_matches(const train::Checkpoint& ck, const std::string& path,
                            const std::string& key, const std::string& want,
                            const std::string& prog, const std::string& flag) {
  auto it = ck.metadata.find(key);
  if (it == ck.metadata.end()) return;
  MPQ_CHECK(it->second == want, prog, ": ", path, " was written for ", key, " '", it->second,
            "', this run has --", flag, " ", want);
}

}  // namespace

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
  args.add("threads", "0", "threads (0: all cores)");
  args.add("device", "cpu",
           "cpu, cuda or cuda:N: where the networks train (a run may resume on another device)");
  args.add("stop-after", "0",
           "stop after this many epochs (float + quantized) as if killed; for testing --resume");
}

ExperimentSettings read_settings(const std::string& prog, const std::vector<std::string>& models,
                                 const Args& args) {
  ExperimentSettings s;
  s.mode = args.str("mode");
  s.quantize = args.str("quantize");
  const std::string &mode = s.mode, &quantize = s.quantize;
  MPQ_CHECK(mode == "learned" || mode == "fixed" || mode == "learn-qmax" || mode == "float", prog,
            ": --mode must be learned, fixed, learn-qmax or float, got '", mode, "'");
  MPQ_CHECK(quantize == "all" || quantize == "weights", prog,
            ": --quantize must be all or weights, got '", quantize, "'");
  // A bitwidth flag the mode does not read would be silently ignored.
  for (const char* flag : {"bits", "wbits", "abits"}) {
    const bool used =
        std::string(flag) == "bits" ? mode == "learned" : mode == "fixed" || mode == "learn-qmax";
    MPQ_CHECK(used || !args.given(flag), prog, ": --", flag, " has no effect with --mode ", mode,
              std::string(flag) == "bits" ? " (--bits is the learned mode's initial bitwidth)"
                                          : " (--wbits and --abits set the fixed and learn-qmax "
                                            "modes' bitwidths; the learned mode starts at --bits)");
  }
  // Weights and activations get the same kind of quantizer (--bits in the
  // learned mode; --wbits and --abits in the fixed and learn-qmax ones).
  s.wbits = mode == "learned" ? args.real("bits", 2, 8) : args.real("wbits", 2, 8);
  s.abits = mode == "learned" ? args.real("bits", 1, 8) : args.real("abits", 1, 8);
  s.optimizer = args.str("optimizer");
  MPQ_CHECK(s.optimizer == "sgd" || s.optimizer == "adam", prog,
            ": --optimizer must be sgd or adam, got '", s.optimizer, "'");
  s.model = args.str("model");
  {
    std::string names;
    for (const auto& m : models) names += (names.empty() ? "" : ", ") + m;
    MPQ_CHECK(std::find(models.begin(), models.end(), s.model) != models.end(), prog,
              ": --model must be one of ", names, ", got '", s.model, "'");
  }
  s.param = quant::parse_parametrization(args.str("param"));
  s.float_epochs = static_cast<int>(args.integer("float-epochs", 0, 10000));
  s.epochs = static_cast<int>(args.integer("epochs", 0, 10000));
  s.batch_size = args.integer("batch-size", 2, 65536);
  s.weight_decay = args.real("weight-decay", 0, 1);
  s.momentum = args.real("momentum", 0, 0.999);
  s.float_lr = args.real("float-lr", 0, 1e30);
  s.lr = args.real("lr", 0, 1e30);
  s.warmup = args.real("warmup", 0, 1e6);
  s.seed = static_cast<std::uint64_t>(args.integer("seed", 0, INT64_MAX));
  s.stop_after = args.integer("stop-after", 0, 1 << 30);
  s.threads = static_cast<int>(args.integer("threads", 0, 1024));
  s.device = Device::parse(args.str("device"));
  s.lambda = args.real("lambda", 0, 1e6);
  s.float_schedule = args.str("float-schedule");
  s.schedule = args.str("schedule");
  train::Schedule::parse(s.float_schedule, s.float_lr, std::max(s.float_epochs, 1));
  train::Schedule::parse(s.schedule, s.lr, std::max(s.epochs, 1));
  // A memory target on tensors that stay float (weights in float mode,
  // activations with --quantize weights) could never be met: a number is
  // refused, and 'auto' means none.
  const bool qweights = mode != "float", qacts = mode != "float" && quantize == "all";
  auto target = [&](const char* flag, bool quantized) {
    const std::string v = args.str(flag);
    TargetSetting t;
    if (v == "none") return t;
    MPQ_CHECK(quantized || v == "auto", prog, ": --", flag,
              " targets tensors that stay float with --mode ", mode, " --quantize ", quantize);
    if (!quantized) return t;
    if (v == "auto") {
      t.kind = TargetSetting::Kind::automatic;
    } else {
      t.kind = TargetSetting::Kind::kb;
      t.kb = args.real(flag, 0, 1e12);
    }
    return t;
  };
  s.weight_target = target("weight-target", qweights);
  s.act_max_target = target("act-max-target", qacts);
  s.act_sum_target = target("act-sum-target", qacts);
  return s;
}

int run_experiment(const Experiment& e, Args& args) {
  const std::string& prog = e.program;
  // The run folder and its configuration come first: a resumed run takes every
  // setting from RUN_DIR/config.json (given flags must agree with it).
  std::string run_dir = args.str("run-dir");
  if (run_dir.empty()) {
    MPQ_CHECK(!args.on("resume"), prog, ": --resume needs --run-dir");
    char buf[64];
    const std::time_t now = std::time(nullptr);
    std::strftime(buf, sizeof buf, "runs/%Y%m%d-%H%M%S", std::localtime(&now));
    run_dir = buf;
  }
  {
    std::error_code ec;
    MPQ_CHECK(!std::filesystem::exists(run_dir, ec) || std::filesystem::is_directory(run_dir, ec),
              prog, ": --run-dir ", run_dir, " exists and is not a folder");
  }
  const std::string config_path = run_dir + "/config.json";
  std::set<std::string> per_process{"resume", "run-dir", "threads", "stop-after", "device"};
  per_process.insert(e.per_process_flags.begin(), e.per_process_flags.end());
  if (args.on("resume")) {
    MPQ_CHECK(std::filesystem::exists(config_path), prog, ": cannot resume: ", config_path,
              " is missing (not a ", prog, " run folder?)");
    std::map<std::string, std::string> saved;
    const Json saved_json = Json::parse(mpq::read_file(config_path, prog),
                                        config_path);  // named: the loop must not outlive it
    for (const auto& [k, v] : saved_json.object())
      if (!per_process.count(k)) saved[k] = v.string();  // a non-string names file and key
    const auto now = args.values();
    // Every setting must be there: a missing one would silently take today's default.
    std::string missing;
    for (const auto& [k, v] : now)
      if (!per_process.count(k) && !saved.count(k))
        missing += (missing.empty() ? "'" : ", '") + k + "'";
    MPQ_CHECK(missing.empty(), prog, ": cannot resume: ", config_path, " lacks the setting",
              missing.find(',') == std::string::npos ? " " : "s ", missing,
              " (written by another version of ", prog, ", or edited?)");
    std::string conflicts;
    for (const auto& [k, v] : saved) {
      MPQ_CHECK(now.count(k), prog, ": cannot resume: ", config_path, " has the setting '", k,
                "', which ", prog, " does not know (a run of another program?)");
      if (args.given(k) && now.at(k) != v)
        conflicts += "\n  --" + k + " " + now.at(k) + " (the run used " + v + ")";
    }
    MPQ_CHECK(conflicts.empty(), prog,
              ": --resume with settings that differ from the run's:", conflicts);
    args.apply_saved(saved);
  } else {
    MPQ_CHECK(!std::filesystem::exists(run_dir + "/last.safetensors"), prog, ": ", run_dir,
              " already holds a run (last.safetensors); continue it with --resume or choose "
              "another --run-dir");
  }
  if (!args.str("config").empty()) {
    MPQ_CHECK(!args.str("experiment").empty(), prog, ": --config needs --experiment NAME");
    // These are read before the experiment file: a value there would be ignored.
    args.load_ini(args.str("config"), args.str("experiment"), {"run-dir", "resume", "stop-after"});
  } else {
    MPQ_CHECK(args.str("experiment").empty(), prog, ": --experiment needs --config FILE");
  }
  const ExperimentSettings settings = read_settings(prog, e.models, args);
  const std::string &mode = settings.mode, &quantize = settings.quantize,
                    &optimizer = settings.optimizer, &model_name = settings.model;
  const quant::Parametrization param = settings.param;
  const int float_epochs = settings.float_epochs, epochs = settings.epochs;
  const std::int64_t batch = settings.batch_size, stop_after = settings.stop_after;
  const double wd = settings.weight_decay, momentum = settings.momentum;
  const double float_lr = settings.float_lr, lr = settings.lr, warmup = settings.warmup;
  const std::uint64_t seed = settings.seed;
  const Device device = settings.device;
  const Stopwatch run_time;
  if (settings.threads > 0) set_num_threads(settings.threads);
  require_device(device, prog.c_str());  // before anything is written
  // Everything is checked before anything is written (below, once the data,
  // the targets and the checkpoints are read): bad input leaves no run folder.
  const std::string last_path = run_dir + "/last.safetensors";

  // ---- resume state ----
  std::string resume_phase;
  int resume_epoch = 0;
  double best_acc_so_far = -1;
  train::Checkpoint resume;
  // A run killed before its first checkpoint has config.json and nothing
  // else worth keeping: --resume starts it from the beginning.
  const bool resume_from_checkpoint = args.on("resume") && std::filesystem::exists(last_path);
  if (args.on("resume") && !resume_from_checkpoint)
    std::printf("resuming: %s has no checkpoint yet; starting the run from its beginning\n",
                run_dir.c_str());
  if (resume_from_checkpoint) {
    resume = train::load_checkpoint(last_path);
    for (const char* key : {"phase", "epoch", "best_test_accuracy"})
      MPQ_CHECK(resume.metadata.count(key), prog, ": ", last_path, " has no '", key,
                "' in its metadata (not a last.safetensors of ", prog, "?)");
    resume_phase = resume.metadata.at("phase");
    MPQ_CHECK(resume_phase == "float" || resume_phase == "quant", prog, ": ", last_path,
              " has the phase '", resume_phase, "' (expected float or quant)");
    const int phase_epochs = resume_phase == "float" ? float_epochs : epochs;
    const std::int64_t ep = metadata_value<std::int64_t>(resume, "epoch", last_path);
    MPQ_CHECK(ep >= 0 && ep <= phase_epochs, prog, ": ", last_path, " records epoch ", ep,
              " of the ", resume_phase, " phase, which has ", phase_epochs, " epochs");
    resume_epoch = static_cast<int>(ep);
    best_acc_so_far = metadata_value<double>(resume, "best_test_accuracy", last_path);
    MPQ_CHECK(best_acc_so_far == -1 || (best_acc_so_far >= 0 && best_acc_so_far <= 1), prog, ": ",
              last_path, ": metadata 'best_test_accuracy' is ", best_acc_so_far,
              " (expected -1 or an accuracy in [0, 1])");
    check_metadata_matches(resume, last_path, "model", model_name, prog, "model");
    check_metadata_matches(resume, last_path, "param",
                           std::string(quant::parametrization_name(param)), prog, "param");
    check_metadata_matches(resume, last_path, "seed", std::to_string(seed), prog, "seed");
    std::printf("resuming %s phase after epoch %d from %s\n", resume_phase.c_str(), resume_epoch,
                last_path.c_str());
  }

  // ---- data ----
  ExperimentData data = e.load(args, batch);
  std::printf("dataset: %s\n", data.description.c_str());

  models::ModelOptions mo;
  mo.in_channels = data.input[1];
  mo.num_classes = data.num_classes;
  mo.seed = seed;
  auto float_net = models::make_model(model_name, mo);
  float_net->to(device);
  {
    // Weights and activations get the same kind of quantizer; fixed and learn-qmax
    // use the uniform or power-of-two baseline that matches --param.
    const double wbits = settings.wbits, abits = settings.abits;
    const models::QuantMode qm = mode == "fixed"        ? models::QuantMode::fixed
                                 : mode == "learn-qmax" ? models::QuantMode::learn_qmax
                                                        : models::QuantMode::learned;
    mo.quant.weights = {qm, param, wbits};
    if (quantize == "all") mo.quant.activations = {qm, param, abits};
  }

  // Targets scaled to this network (needs the activation sizes of one forward).
  train::MemoryTargets targets;
  targets.lambda = settings.lambda;
  {
    NoGradGuard ng;
    auto probe = models::make_model(model_name, mo);
    probe->eval();
    probe->forward(zeros(data.input));
    const models::QuantSummary s = models::quant_summary(*probe);
    const AutoTargets at = e.auto_targets(model_name);
    double wsize = 0, amax = 0, asum = 0;
    for (const auto& r : s.rows) {
      if (r.kind == "activation") {
        amax = std::max(amax, quant::memory_kb(at.act_bits, r.count));
        asum += quant::memory_kb(at.act_bits, r.count);
      } else {
        wsize += quant::memory_kb(at.weight_bits, r.count);
      }
    }
    // read_settings made targets on tensors that stay float 'none'.
    auto target = [](const TargetSetting& t, double autov) -> std::optional<double> {
      if (t.kind == TargetSetting::Kind::none) return std::nullopt;
      if (t.kind == TargetSetting::Kind::automatic) return autov;
      return t.kb;
    };
    targets.weight_kb = target(settings.weight_target, wsize * at.weight_ratio);
    targets.act_max_kb = target(settings.act_max_target, amax * at.act_max_ratio);
    targets.act_sum_kb = target(settings.act_sum_target, asum * at.act_sum_ratio);
  }
  auto fmt_target = [](const std::optional<double>& t) {
    return t ? std::to_string(*t).substr(0, 6) + " kB" : std::string("none");
  };
  std::printf(
      "memory targets: weights %s, largest activation %s, sum of activations %s (lambda %g)\n",
      fmt_target(targets.weight_kb).c_str(), fmt_target(targets.act_max_kb).c_str(),
      fmt_target(targets.act_sum_kb).c_str(), targets.lambda);

  // The float network of --float-init, read now so that a missing or broken
  // file stops the run before its folder exists.
  const std::string float_init_path = args.str("float-init");
  const bool use_float_init = !float_init_path.empty() && resume_phase != "quant";
  if (use_float_init) {
    const train::Checkpoint float_init = train::load_checkpoint(float_init_path);
    auto phase_it = float_init.metadata.find("phase");
    MPQ_CHECK(phase_it == float_init.metadata.end() || phase_it->second == "float", prog,
              ": --float-init ", float_init_path, " is a checkpoint of the '", phase_it->second,
              "' phase; it takes a float network (RUN/float.safetensors)");
    check_metadata_matches(float_init, float_init_path, "model", model_name, prog, "model");
    try {
      float_net->load_state_dict(with_prefix(float_init, "model."));
    } catch (const Error& err) {
      MPQ_FAIL(prog, ": --float-init ", float_init_path, " does not fit --model ", model_name, ": ",
               err.what());
    }
  }

  // Every flag, the data and the checkpoints read: only now is anything written.
  {
    std::error_code ec;
    std::filesystem::create_directories(run_dir, ec);
    MPQ_CHECK(!ec, prog, ": cannot create the run folder ", run_dir, ": ", ec.message());
  }
  if (!args.on("resume")) {
    Json cfg = Json::Object{};
    for (const auto& [k, v] : args.values())
      if (!per_process.count(k)) cfg[k] = v;
    mpq::write_file_atomic(config_path, cfg.dump() + "\n");
  }
  std::printf("run dir: %s\n", run_dir.c_str());
  train::Trainer trainer(run_dir, args.on("resume"), best_acc_so_far, stop_after,
                         {{"model", model_name},
                          {"param", std::string(quant::parametrization_name(param))},
                          {"seed", std::to_string(seed)}},
                         resume.metadata.count("log_line") ? resume.metadata.at("log_line") : "");

  auto make_opt = [&](models::Module& net, double phase_lr) -> std::unique_ptr<train::Optimizer> {
    // The paper's preset: the same L2 decay on every parameter, quantizers and BN included.
    // With SGD the quantizers' decay is added to their gradients before the clipping
    // (train::PhaseOptions::quantizer_l2), so their group has none of its own.
    std::vector<train::ParamGroup> groups{
        {net.model_parameters(), wd, 1.0},
        {net.quantizer_parameters(), optimizer == "sgd" ? 0.0 : wd, 1.0}};
    if (optimizer == "adam")
      return std::make_unique<train::Adam>(
          std::move(groups),
          train::AdamOptions{phase_lr, 0.9, 0.999, 1e-8, wd, train::WeightDecay::decoupled});
    return std::make_unique<train::Sgd>(std::move(groups),
                                        train::SgdOptions{phase_lr, momentum, wd, false});
  };
  auto restore = [&](models::Module& net, train::Optimizer& opt) {
    try {
      net.load_state_dict(with_prefix(resume, "model."));
      opt.load_state(with_prefix(resume, "optim."));
    } catch (const Error& err) {
      MPQ_FAIL(prog, ": cannot resume from ", last_path, ": ", err.what());
    }
  };
  auto phase = [&](const std::string& name, bool quantized, int phase_epochs, double phase_lr,
                   const std::string& schedule) {
    train::PhaseOptions o;
    o.name = name;
    o.quantized = quantized;
    o.epochs = phase_epochs;
    o.first_epoch = resume_phase == name ? resume_epoch : 0;
    o.lr = phase_lr;
    o.schedule = schedule;
    o.warmup_epochs = warmup;
    o.quantizer_l2 = quantized && optimizer == "sgd" ? wd : 0.0;
    if (quantized) o.targets = targets;
    o.seed = seed;
    return o;
  };

  std::shared_ptr<models::Module> qnet;
  try {
    // ---- phase 1: float (trained, or taken from --float-init) ----
    if (use_float_init) {  // loaded above
      std::printf("float network from %s (test accuracy %.2f%%)\n", float_init_path.c_str(),
                  100 * train::evaluate(*float_net, *data.test).accuracy);
    } else if (resume_phase != "quant" && float_epochs > 0) {
      auto opt = make_opt(*float_net, float_lr);
      if (resume_phase == "float") restore(*float_net, *opt);
      trainer.run_phase(phase("float", false, float_epochs, float_lr, settings.float_schedule),
                        *float_net, *opt, *data.train, *data.test);
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
    qnet->to(device);
    auto qopt = make_opt(*qnet, lr);
    if (resume_phase == "quant") {
      restore(*qnet, *qopt);
    } else {
      const int copied = load_matching(*qnet, float_net->state_dict());
      MPQ_CHECK(copied == static_cast<int>(float_net->state_dict().size()), prog, ": only ", copied,
                " of ", float_net->state_dict().size(),
                " float tensors found a place in the quantized network");
      models::init_quantizers_from_weights(*qnet);
    }
    if (mode != "float" && epochs > 0)
      trainer.run_phase(phase("quant", true, epochs, lr, settings.schedule), *qnet, *qopt,
                        *data.train, *data.test);
  } catch (const train::Trainer::StopRequested&) {
    std::printf(
        "stopped after %lld epochs as asked (--stop-after); continue with --resume --run-dir %s\n",
        static_cast<long long>(stop_after), run_dir.c_str());
    return 0;
  }

  // ---- final report ----
  const train::Evaluation final_eval = train::evaluate(*qnet, *data.test);
  const models::QuantSummary qs = models::quant_summary(*qnet);
  const std::vector<train::TargetMiss> misses = train::missed_targets(*qnet, targets);
  const bool met = misses.empty();
  const double best_acc = trainer.best_accuracy();
  std::printf("\nper-layer quantizers of the final network:\n%s",
              models::format_quant_summary(qs).c_str());
  std::printf("\nfinal test accuracy: %.2f%% (top-5 %.2f%%)  (best with targets met: %s)\n",
              100 * final_eval.accuracy, 100 * final_eval.top5,
              best_acc >= 0 ? (std::to_string(100 * best_acc).substr(0, 5) + "%").c_str() : "none");
  std::printf(
      "memory: weights %.1f kB, largest activation %.1f kB, sum of activations %.1f kB -> %s\n",
      qs.weight_kb, qs.max_activation_kb, qs.sum_activation_kb,
      met ? "all targets met" : ("targets NOT met: " + train::describe_misses(misses)).c_str());
  // A run whose training ended before the penalty pulled the sizes under
  // their targets: the penalty of the final bitwidths says how far it was.
  const double final_penalty = met ? 0.0 : [&] {
    NoGradGuard ng;
    return train::memory_terms(*qnet, targets).penalty.item();
  }();
  if (!met)
    std::printf(
        "the memory penalty of the final bitwidths is %.4g: training ended before the penalty "
        "brought the sizes under their targets (train longer, or raise --lambda)\n",
        final_penalty);
  const std::int64_t skipped = data.skipped_files ? data.skipped_files() : 0;
  if (skipped > 0)
    std::printf("data: skipped %lld undecodable file%s (each named in a warning)\n",
                static_cast<long long>(skipped), skipped == 1 ? "" : "s");
  Json summary = Json::Object{};
  summary["program"] = prog;
  summary["dataset"] = data.name;
  summary["model"] = model_name;
  summary["param"] =
      mode == "float" ? std::string("float") : std::string(quant::parametrization_name(param));
  summary["mode"] = mode;
  summary["quantize"] = quantize;
  summary["experiment"] = args.str("experiment").empty() ? Json() : Json(args.str("experiment"));
  // With --float-init the float network was trained elsewhere: this run
  // trained no float epochs, and names where its float weights came from.
  summary["float_epochs"] = float_init_path.empty() ? float_epochs : 0;
  summary["float_init"] = float_init_path.empty() ? Json() : Json(float_init_path);
  summary["epochs"] = epochs;
  summary["test_accuracy"] = final_eval.accuracy;
  summary["test_top5"] = final_eval.top5;
  summary["best_test_accuracy"] = best_acc >= 0 ? Json(best_acc) : Json();
  summary["weight_kb"] = qs.weight_kb;
  summary["activation_kb_max"] = qs.max_activation_kb;
  summary["activation_kb_sum"] = qs.sum_activation_kb;
  summary["weight_kb_target"] = opt_number(targets.weight_kb);
  summary["activation_kb_max_target"] = opt_number(targets.act_max_kb);
  summary["activation_kb_sum_target"] = opt_number(targets.act_sum_kb);
  summary["constraints_met"] = met;
  // Which targets were missed and by how much (empty when all are met).
  Json::Array missed;
  for (const train::TargetMiss& m : misses)
    missed.push_back(Json::Object{{"target", m.what},
                                  {"kb", m.kb},
                                  {"target_kb", m.target_kb},
                                  {"over_kb", m.kb - m.target_kb}});
  summary["targets_missed"] = Json(missed);
  summary["final_penalty"] = final_penalty;
  summary["images_per_s"] = trainer.images_per_s();
  summary["device"] = device.str();
  summary["skipped_files"] = skipped;
  summary["mean_weight_bits"] = qs.mean_weight_bits;
  Json bits = Json::Object{};
  for (const auto& r : qs.rows) bits[r.name] = r.bits;
  summary["bitwidths"] = bits;
  summary["run_dir"] = run_dir;
  summary["wall_time_s"] = run_time.seconds();
  mpq::write_file_atomic(run_dir + "/summary.json", summary.dump() + "\n");
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
  mpq::write_file_atomic(run_dir + "/quantizers.json", Json(rows).dump() + "\n");
  const std::string report = train::write_report(run_dir);
  std::printf("report: %s\n", report.c_str());
  std::printf("run dir: %s (summary.json, log.jsonl, report.html, last.safetensors%s)\n",
              run_dir.c_str(), best_acc >= 0 ? ", best.safetensors" : "");
  return 0;
}

}  // namespace mpq::examples
