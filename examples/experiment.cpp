#include "examples/experiment.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <thread>

#include <sched.h>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/parallel.h"
#include "core/stopwatch.h"
#include "models/quant_summary.h"
#include "models/zoo.h"
#include "quant/memory.h"
#include "train/distributed.h"
#include "train/json.h"
#include "train/mixed_precision.h"
#include "train/optimizer.h"
#include "train/report.h"
#include "train/run_folder.h"

namespace mpq::examples {

using train::Json;

namespace {

// --run-dir, or runs/<date>-<time> for a fresh run.
std::string run_dir_of(const std::string& prog, const Args& args) {
  std::string run_dir = args.str("run-dir");
  if (!run_dir.empty()) return run_dir;
  MPQ_CHECK(!args.on("resume"), prog, ": --resume needs --run-dir");
  char buf[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(buf, sizeof buf, "runs/%Y%m%d-%H%M%S", std::localtime(&now));
  return buf;
}

// The settings config.json keeps: every flag but the per-process ones.
std::map<std::string, std::string> result_settings(const Args& args,
                                                   const std::set<std::string>& per_process) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : args.values())
    if (!per_process.count(k)) out[k] = v;
  return out;
}

// The memory targets scaled to this network: 'auto' ones from the sizes of a
// probe network of options `mo` (one forward gives the activation sizes) at
// the program's AutoTargets bitwidths, each size from quant::memory_kb.
train::MemoryTargets memory_targets(const Experiment& e, const ExperimentConfig& c,
                                    const models::ModelOptions& mo, const Shape& input) {
  train::MemoryTargets targets;
  targets.lambda = c.lambda;
  NoGradGuard ng;
  auto probe = models::make_model(c.model, mo);
  probe->eval();
  probe->forward(zeros(input));
  const models::QuantSummary s = models::quant_summary(*probe);
  const AutoTargets at = e.auto_targets(c.model);
  double wsize = 0, amax = 0, asum = 0;
  for (const auto& r : s.rows) {
    if (r.kind == "activation") {
      amax = std::max(amax, quant::memory_kb(at.act_bits, r.count));
      asum += quant::memory_kb(at.act_bits, r.count);
    } else {
      wsize += quant::memory_kb(at.weight_bits, r.count);
    }
  }
  // parse_experiment_config made targets on tensors that stay float 'none'.
  targets.weight_kb = c.weight_target.resolve(wsize * at.weight_ratio);
  targets.act_max_kb = c.act_max_target.resolve(amax * at.act_max_ratio);
  targets.act_sum_kb = c.act_sum_target.resolve(asum * at.act_sum_ratio);
  return targets;
}

void print_targets(const train::MemoryTargets& targets) {
  auto fmt = [](const std::optional<double>& t) {
    return t ? std::to_string(*t).substr(0, 6) + " kB" : std::string("none");
  };
  std::printf(
      "memory targets: weights %s, largest activation %s, sum of activations %s (lambda %g)\n",
      fmt(targets.weight_kb).c_str(), fmt(targets.act_max_kb).c_str(),
      fmt(targets.act_sum_kb).c_str(), targets.lambda);
}

std::unique_ptr<train::Optimizer> make_optimizer(const ExperimentConfig& c, models::Module& net,
                                                 double lr) {
  const double wd = c.weight_decay;
  const bool sgd = c.optimizer == OptimizerKind::sgd;
  // The paper's preset: the same L2 decay on every parameter, quantizers and BN included.
  // With SGD the quantizers' decay is added to their gradients before the clipping
  // (train::PhaseOptions::quantizer_l2), so their group has none of its own.
  std::vector<train::ParamGroup> groups{{net.model_parameters(), wd, 1.0},
                                        {net.quantizer_parameters(), sgd ? 0.0 : wd, 1.0}};
  if (!sgd)
    return std::make_unique<train::Adam>(
        std::move(groups),
        train::AdamOptions{lr, 0.9, 0.999, 1e-8, wd, train::WeightDecay::decoupled});
  return std::make_unique<train::Sgd>(std::move(groups),
                                      train::SgdOptions{lr, c.momentum, wd, false});
}

// A phase as the Trainer runs it ("float" or "quant"), continuing after the
// resume point's epoch when the run stopped in it.
train::PhaseOptions phase_options(const ExperimentConfig& c, const std::string& name,
                                  const PhaseSchedule& schedule,
                                  const train::MemoryTargets& targets,
                                  const train::ResumePoint& resume) {
  const bool quantized = name == "quant";
  train::PhaseOptions o;
  o.name = name;
  o.quantized = quantized;
  o.epochs = schedule.epochs;
  o.first_epoch = resume.phase == name ? resume.epoch : 0;
  o.lr = schedule.lr;
  o.schedule = schedule.schedule;
  o.warmup_epochs = schedule.warmup;
  o.quantizer_l2 = quantized && c.optimizer == OptimizerKind::sgd ? c.weight_decay : 0.0;
  if (quantized) o.targets = targets;
  o.seed = c.seed;
  o.sync_batch_norm = c.sync_batch_norm;
  o.trajectory_points = c.trajectory_points;
  return o;
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

Json opt_number(const std::optional<double>& v) {
  return v ? Json(*v) : Json();
}

// What the final network achieved, as printed and as summary.json keeps it.
struct Outcome {
  train::Evaluation eval;
  models::QuantSummary quantizers;
  std::vector<train::TargetMiss> misses;
  double best_accuracy = -1, final_penalty = 0;
  std::int64_t skipped_files = 0;
  bool met() const { return misses.empty(); }
};

Outcome assess(models::Module& qnet, const train::MemoryTargets& targets,
               const train::Trainer& trainer, ExperimentData& data) {
  Outcome r;
  r.eval = train::evaluate(qnet, *data.test);
  r.quantizers = models::quant_summary(qnet);
  r.misses = train::missed_targets(qnet, targets);
  r.best_accuracy = trainer.best_accuracy();
  // A run whose training ended before the penalty pulled the sizes under
  // their targets: the penalty of the final bitwidths says how far it was.
  if (!r.met()) {
    NoGradGuard ng;
    r.final_penalty = train::memory_terms(qnet, targets).penalty.item();
  }
  // Each process counts the files of its own shards.
  std::vector<double> skipped{data.skipped_files ? static_cast<double>(data.skipped_files()) : 0};
  train::Distributed::get().all_reduce(skipped);
  r.skipped_files = static_cast<std::int64_t>(skipped[0]);
  return r;
}

void print_outcome(const Outcome& r) {
  const models::QuantSummary& qs = r.quantizers;
  std::printf("\nper-layer quantizers of the final network:\n%s",
              models::format_quant_summary(qs).c_str());
  std::printf("\nfinal test accuracy: %.2f%% (top-5 %.2f%%)  (best with targets met: %s)\n",
              100 * r.eval.accuracy, 100 * r.eval.top5,
              r.best_accuracy >= 0
                  ? (std::to_string(100 * r.best_accuracy).substr(0, 5) + "%").c_str()
                  : "none");
  std::printf(
      "memory: weights %.1f kB, largest activation %.1f kB, sum of activations %.1f kB -> %s\n",
      qs.weight_kb, qs.max_activation_kb, qs.sum_activation_kb,
      r.met() ? "all targets met"
              : ("targets NOT met: " + train::describe_misses(r.misses)).c_str());
  if (!r.met())
    std::printf(
        "the memory penalty of the final bitwidths is %.4g: training ended before the penalty "
        "brought the sizes under their targets (train longer, or raise --lambda)\n",
        r.final_penalty);
  if (r.skipped_files > 0)
    std::printf("data: skipped %lld undecodable file%s (each named in a warning)\n",
                static_cast<long long>(r.skipped_files), r.skipped_files == 1 ? "" : "s");
}

Json summary_json(const std::string& prog, const ExperimentConfig& c, const Device& device,
                  const std::string& dataset, const train::MemoryTargets& targets, const Outcome& r,
                  double images_per_s, const std::string& run_dir, double wall_time_s) {
  const models::QuantSummary& qs = r.quantizers;
  Json summary = Json::Object{};
  summary["program"] = prog;
  summary["dataset"] = dataset;
  summary["model"] = c.model;
  summary["param"] = c.mode == Mode::float_network
                         ? std::string("float")
                         : std::string(quant::parametrization_name(c.quantizers.param));
  summary["mode"] = std::string(mode_name(c.mode));
  summary["quantize"] = std::string(quantized_name(c.quantize));
  summary["experiment"] = c.experiment.empty() ? Json() : Json(c.experiment);
  // With --float-init the float network was trained elsewhere: this run
  // trained no float epochs, and names where its float weights came from.
  summary["float_epochs"] = c.float_init.empty() ? c.float_phase.epochs : 0;
  summary["float_init"] = c.float_init.empty() ? Json() : Json(c.float_init);
  summary["epochs"] = c.quant_phase.epochs;
  summary["test_accuracy"] = r.eval.accuracy;
  summary["test_top5"] = r.eval.top5;
  summary["best_test_accuracy"] = r.best_accuracy >= 0 ? Json(r.best_accuracy) : Json();
  summary["weight_kb"] = qs.weight_kb;
  summary["activation_kb_max"] = qs.max_activation_kb;
  summary["activation_kb_sum"] = qs.sum_activation_kb;
  summary["weight_kb_target"] = opt_number(targets.weight_kb);
  summary["activation_kb_max_target"] = opt_number(targets.act_max_kb);
  summary["activation_kb_sum_target"] = opt_number(targets.act_sum_kb);
  summary["constraints_met"] = r.met();
  // Which targets were missed and by how much (empty when all are met).
  Json::Array missed;
  for (const train::TargetMiss& m : r.misses)
    missed.push_back(Json::Object{{"target", m.what},
                                  {"kb", m.kb},
                                  {"target_kb", m.target_kb},
                                  {"over_kb", m.kb - m.target_kb}});
  summary["targets_missed"] = Json(missed);
  summary["final_penalty"] = r.final_penalty;
  summary["images_per_s"] = images_per_s;
  summary["device"] = device.str();
  summary["processes"] = train::Distributed::get().size();
  summary["skipped_files"] = r.skipped_files;
  summary["mean_weight_bits"] = qs.mean_weight_bits;
  Json bits = Json::Object{};
  for (const auto& row : qs.rows) bits[row.name] = row.bits;
  summary["bitwidths"] = bits;
  summary["run_dir"] = run_dir;
  summary["wall_time_s"] = wall_time_s;
  return summary;
}

}  // namespace

int run_experiment(const Experiment& e, Args& args) {
  const std::string& prog = e.program;
  // ---- settings: the run folder first, since a resumed run takes every
  // setting from its config.json (given flags must agree with it) ----
  std::set<std::string> per_process = per_process_flags();
  per_process.insert(e.per_process_flags.begin(), e.per_process_flags.end());
  const train::RunFolder run(prog, run_dir_of(prog, args), args.on("resume"));
  const ExperimentConfig c = load_experiment_config(prog, e.models, per_process, args, run);
  const Stopwatch run_time;
  // Data parallelism: this process's place in the job (one process alone
  // unless a launcher started several, train/distributed.h).
  train::Distributed& dist = train::Distributed::get();
  if (c.threads > 0) {
    set_num_threads(c.threads);
  } else if (dist.local_size() > 1) {
    // The cores this process may run on: those the launcher bound it to
    // (Open MPI binds each process to a core or socket by default), else the
    // machine's shared among its processes.
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    cpu_set_t mask;
    const int bound = sched_getaffinity(0, sizeof mask, &mask) == 0 ? CPU_COUNT(&mask) : cores;
    set_num_threads(bound < cores ? std::max(1, bound) : std::max(1, cores / dist.local_size()));
  }
  // With several processes, "cuda" is each process's own GPU: its local rank.
  Device device = c.device;
  if (dist.multi() && !device.is_cpu() && args.str("device") == "cuda")
    device = Device::cuda(dist.local_rank());
  require_device(device, prog.c_str());
  // Everything is checked before anything is written (run.create below, once
  // the data, the targets and the checkpoints are read): bad input leaves no
  // run folder.
  const std::map<std::string, std::string> identity{
      {"model", c.model},
      {"param", std::string(quant::parametrization_name(c.quantizers.param))},
      {"seed", std::to_string(c.seed)}};
  const train::ResumePoint resume =
      run.read_resume_point(c.float_phase.epochs, c.quant_phase.epochs, identity);

  // ---- data, networks and targets ----
  ExperimentData data = e.load(args, c.batch_size, {dist.rank(), dist.size()});
  std::printf("dataset: %s\n", data.description.c_str());
  if (dist.multi())
    std::printf("processes: %d (each trains on its slice of every batch of %lld; batch norm %s)\n",
                dist.size(), static_cast<long long>(c.batch_size),
                c.sync_batch_norm ? "synchronised" : "per process");
  models::ModelOptions mo;
  mo.in_channels = data.input[1];
  mo.num_classes = data.num_classes;
  mo.seed = c.seed;
  auto float_net = models::make_model(c.model, mo);
  float_net->to(device);
  mo.quant = quant_config(c);
  const train::MemoryTargets targets = memory_targets(e, c, mo, data.input);
  print_targets(targets);
  // The float network of --float-init, read now so that a missing or broken
  // file stops the run before its folder exists.
  const bool use_float_init = !c.float_init.empty() && resume.phase != "quant";
  if (use_float_init) run.load_float_init(c.float_init, c.model, *float_net);

  // ---- every flag, the data and the checkpoints read: only now is anything written ----
  // (by rank 0 alone, once every process has read what it needs)
  dist.barrier();
  if (dist.is_root()) run.create(result_settings(args, per_process));
  std::printf("run dir: %s\n", run.path().c_str());
  train::Trainer trainer(run.path(), run.resuming(), resume.best_accuracy, c.stop_after, identity,
                         resume.log_line());
  std::shared_ptr<models::Module> qnet;
  try {
    // ---- phase 1: float (trained, or taken from --float-init) ----
    if (use_float_init) {  // loaded above
      std::printf("float network from %s (test accuracy %.2f%%)\n", c.float_init.c_str(),
                  100 * train::evaluate(*float_net, *data.test).accuracy);
    } else if (resume.phase != "quant" && c.float_phase.epochs > 0) {
      auto opt = make_optimizer(c, *float_net, c.float_phase.lr);
      if (resume.phase == "float") run.restore(resume, *float_net, *opt);
      trainer.run_phase(phase_options(c, "float", c.float_phase, targets, resume), *float_net, *opt,
                        *data.train, *data.test);
      // The trained float network, reusable by other runs (--float-init).
      if (dist.is_root()) run.save_float(*float_net, c.float_phase.epochs, c.model);
    }
    // ---- phase 2: quantized, from the float weights (none in float mode) ----
    if (c.mode == Mode::float_network) mo.quant = models::QuantConfig::float_network();
    qnet = models::make_model(c.model, mo);
    qnet->to(device);
    auto qopt = make_optimizer(c, *qnet, c.quant_phase.lr);
    if (resume.phase == "quant") {
      run.restore(resume, *qnet, *qopt);
    } else {
      const int copied = load_matching(*qnet, float_net->state_dict());
      MPQ_CHECK(copied == static_cast<int>(float_net->state_dict().size()), prog, ": only ", copied,
                " of ", float_net->state_dict().size(),
                " float tensors found a place in the quantized network");
      models::init_quantizers_from_weights(*qnet);
    }
    if (c.quantizes_weights() && c.quant_phase.epochs > 0)
      trainer.run_phase(phase_options(c, "quant", c.quant_phase, targets, resume), *qnet, *qopt,
                        *data.train, *data.test);
  } catch (const train::Trainer::StopRequested&) {
    std::printf(
        "stopped after %lld epochs as asked (--stop-after); continue with --resume --run-dir %s\n",
        static_cast<long long>(c.stop_after), run.path().c_str());
    return 0;
  }

  // ---- final report ----
  const Outcome outcome = assess(*qnet, targets, trainer, data);
  if (!dist.is_root()) return 0;
  print_outcome(outcome);
  run.write_summary(summary_json(prog, c, device, data.name, targets, outcome,
                                 trainer.images_per_s(), run.path(), run_time.seconds()));
  run.write_quantizers(outcome.quantizers);
  const std::string report = train::write_report(run.path());
  std::printf("report: %s\n", report.c_str());
  std::printf("run dir: %s (summary.json, log.jsonl, report.html, last.safetensors%s)\n",
              run.path().c_str(), outcome.best_accuracy >= 0 ? ", best.safetensors" : "");
  return 0;
}

}  // namespace mpq::examples
