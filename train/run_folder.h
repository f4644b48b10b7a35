// The run folder of an experiment program and the files it owns:
//
//   config.json       every setting that changes the results (written once)
//   float.safetensors the trained float network (reusable: --float-init)
//   last.safetensors  after every epoch: model, optimizer state, phase, epoch,
//                     the best accuracy so far and the epoch's log line
//   best.safetensors  the best quantized network with every target met
//   log.jsonl         one line per epoch (train::Trainer writes both
//                     checkpoints and the log, in that order)
//   trajectory.jsonl  every quantizer's b, d, q_max, q_min at a step interval
//   summary.json, quantizers.json (and report.html) at the end
//
// Its guarantees (docs/reliability.md): everything a run reads is checked
// before anything is written (the constructor and the read_* and load_*
// functions only read; create() is the first write), every write is atomic,
// and a resumed run takes every setting from config.json and continues from
// last.safetensors, so that it ends with the same bytes as an uninterrupted
// run. Errors start with the program's name, as the programs' other errors.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "models/module.h"
#include "models/quant_summary.h"
#include "train/checkpoint.h"
#include "train/json.h"
#include "train/optimizer.h"

namespace mpq::train {

// The files' names (train::Trainer writes the checkpoints and the log).
inline constexpr const char* kConfigFile = "config.json";
inline constexpr const char* kFloatCheckpoint = "float.safetensors";
inline constexpr const char* kLastCheckpoint = "last.safetensors";
inline constexpr const char* kBestCheckpoint = "best.safetensors";
inline constexpr const char* kLogFile = "log.jsonl";
inline constexpr const char* kTrajectoryFile = "trajectory.jsonl";
inline constexpr const char* kSummaryFile = "summary.json";
inline constexpr const char* kQuantizersFile = "quantizers.json";

// Where a resumed run continues: after `epoch` of `phase`.
struct ResumePoint {
  std::string phase;  // "float" or "quant"; empty: from the beginning
  int epoch = 0;
  double best_accuracy = -1;  // with every target met so far (-1: none)
  Checkpoint checkpoint;      // last.safetensors (empty when starting over)

  bool from_checkpoint() const { return !phase.empty(); }
  // The checkpoint's "log_line" (Trainer: mending log.jsonl); "" if none.
  std::string log_line() const;
};

class RunFolder {
 public:
  // `path` must be a folder or not exist yet; nothing is created until create().
  RunFolder(std::string program, std::string path, bool resume);

  const std::string& path() const { return path_; }
  bool resuming() const { return resume_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // A fresh run: refuses a folder that already holds a run.
  void check_fresh() const;
  // --resume: the settings of config.json, checked against this program's
  // `current` settings (per-process flags left out): every one must be there,
  // none unknown, and the `given` ones (flags on the command line) must agree.
  // `added_later`: settings whose flags are newer than some runs, with the
  // value those runs used; a config.json without one of them takes it.
  std::map<std::string, std::string> read_config(
      const std::map<std::string, std::string>& current, const std::set<std::string>& given,
      const std::set<std::string>& per_process,
      const std::map<std::string, std::string>& added_later = {}) const;

  // --resume: where last.safetensors continues, checked against the phases'
  // lengths and `identity` (metadata keys named as their flags: model, param,
  // seed). A run killed before its first checkpoint starts over (an empty
  // ResumePoint); so does a fresh run.
  ResumePoint read_resume_point(int float_epochs, int quant_epochs,
                                const std::map<std::string, std::string>& identity) const;
  // Loads a resume point's network and optimizer state (they must fit exactly).
  void restore(const ResumePoint& point, models::Module& net, Optimizer& opt) const;

  // Loads the float network of another run (--float-init `path`): a float
  // checkpoint written for `model` that fits `net` exactly.
  void load_float_init(const std::string& path, const std::string& model,
                       models::Module& net) const;

  // The first write: creates the folder and, for a fresh run, writes
  // config.json (`settings`: the ones that change the results).
  void create(const std::map<std::string, std::string>& settings) const;
  // float.safetensors: the float network after `epochs` epochs.
  void save_float(const models::Module& net, int epochs, const std::string& model) const;
  void write_summary(const Json& summary) const;
  void write_quantizers(const models::QuantSummary& quantizers) const;

 private:
  std::string program_, path_;
  bool resume_;
};

}  // namespace mpq::train
