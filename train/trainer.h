// The training loop of a network with learned mixed precision (docs/method.md
// sections 5 and 6), shared by the examples that train
// on in-memory tensors (CIFAR-10, Fashion-MNIST) and on image folders
// (ImageNet).
//
// One phase = `epochs` epochs of SGD/Adam steps on
//
//   loss = CE + lambda sum_k relu(kB_k - target_k)^2      (quantized phase)
//   loss = CE                                            (float phase)
//
// with, in the quantized phase, the paper's order of operations per step:
// backward; SGD's L2 decay added to the quantizer gradients; quantizer
// gradients clipped (when a target is set); optimizer step; quantizer
// parameters clipped into their bounds. After every epoch the test set is
// evaluated, a line is appended to RUN_DIR/log.jsonl, RUN_DIR/last.safetensors
// is written (atomically) and RUN_DIR/best.safetensors whenever the test
// accuracy improves while every target is met. The log line is written after
// the checkpoint, so a run resumed from last.safetensors never repeats one.
//
// A non-finite loss or gradient stops training with an mpq::Error before
// anything is saved over the last good checkpoint.
//
// Quantizer trajectories: in a phase with quantizers, RUN_DIR/trajectory.jsonl
// gets one line per record, {"phase", "epoch", "step" (updates done in the
// phase), "quantizers": {site name: {"b", "d", "qmax", "qmin"}}}: before the
// first update, then every ceil(steps / trajectory_points) updates
// and after the last. A resumed run drops the lines after its checkpoint's
// epoch before appending, so its file equals an uninterrupted run's.
//
// Data parallelism (train::Distributed, docs/distributed.md): every process
// runs the same phase on its slice of each batch. Per step the processes add
// up their batch sizes m_r (m = sum), each back-propagates
//   (m_r N / m) CE_r + penalty      (CE_r: the mean over its slice)
// and the gradients of every trained tensor are averaged over the N
// processes, which gives each the gradient of CE + penalty over the whole
// batch, before the L2 term, the clipping and the update: the parameters stay
// identical everywhere. The phase starts by broadcasting rank 0's network and
// optimizer state. Losses, accuracies and evaluations are sums over all
// processes; only rank 0 prints, logs and writes checkpoints.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <string>

#include "core/tensor.h"
#include "models/module.h"
#include "train/distributed.h"
#include "train/diverged.h"
#include "train/mixed_precision.h"
#include "train/optimizer.h"

namespace mpq::train {

// Where a phase's batches come from. `start_epoch(key)` begins an epoch whose
// order and augmentation depend only on `key`; `next` yields float32
// [B, C, H, W] images and int32 [B] labels until the epoch ends. The tensors
// `next` returns may be reused by the source for its next batch. In a job of
// several processes each process's source yields its slice of every batch
// (data::Shard): batch_size() is the whole batch's, and a slice may be empty
// (images undefined, labels [0]).
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual std::int64_t size() const = 0;  // samples per epoch
  virtual std::int64_t batch_size() const = 0;
  virtual void start_epoch(std::uint64_t key) = 0;
  virtual bool next(Tensor& images, Tensor& labels) = 0;
};

// Mixes two 64-bit values into one seed (the per-phase and per-epoch keys).
std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b);

struct Evaluation {
  double loss = 0;      // mean cross-entropy
  double accuracy = 0;  // top-1
  double top5 = 0;      // top-5 (top-k with k = min(5, classes))
  std::int64_t samples = 0;
};

// Evaluates `net` in eval mode on one pass of `data` (key 0) and returns it to
// training mode. In a job of several processes (train/distributed.h) the sums
// are added over them, so each may evaluate its own shard of the data; every
// process must call it. A source may yield an empty batch (a shard's).
Evaluation evaluate(models::Module& net, BatchSource& data);

struct PhaseOptions {
  std::string name;  // "float" or "quant": log lines and checkpoint metadata
  bool quantized = false;
  int epochs = 0;       // the phase's length (the schedule spans it)
  int first_epoch = 0;  // epochs already done (a resumed phase)
  double lr = 0.1;
  std::string schedule = "cosine";  // train::Schedule::parse syntax
  double warmup_epochs = 0;
  // SGD: L2 decay added to the quantizer gradients before they are clipped
  // (their optimizer group then has no decay of its own). 0 with Adam.
  double quantizer_l2 = 0;
  MemoryTargets targets;  // quantized phase only
  std::uint64_t seed = 0;
  // Data parallelism (several processes, train/distributed.h): batch norm's
  // training statistics over the whole batch rather than each process's
  // slice. Without it each process keeps its own running statistics, which
  // are averaged before every evaluation.
  bool sync_batch_norm = true;
  // Quantizer trajectories (RUN_DIR/trajectory.jsonl): about this many
  // records per phase, evenly spaced in steps (0: none).
  int trajectory_points = 50;
};

class Trainer {
 public:
  // Thrown after `stop_after` epochs (counted over all phases) when it is > 0:
  // the process stops as if killed, for testing --resume.
  struct StopRequested {};

  // run_dir must exist. append_log: keep the lines of log.jsonl (a resumed
  // run). best_accuracy: the best test accuracy with every target met so far
  // (-1: none). metadata: extra keys of last.safetensors (model, seed, ...).
  // resume_log_line: the "log_line" metadata of the checkpoint resumed from
  // (empty: none, or a checkpoint without it). Each checkpoint carries its
  // epoch's log line, written to log.jsonl only after the checkpoint, so a
  // process killed in between (or mid-line) leaves a log that a resumed run
  // mends before appending: its complete lines up to the checkpoint's own,
  // which is added when missing.
  Trainer(std::string run_dir, bool append_log, double best_accuracy, std::int64_t stop_after,
          std::map<std::string, std::string> metadata, const std::string& resume_log_line = "");

  void run_phase(const PhaseOptions& options, models::Module& net, Optimizer& opt,
                 BatchSource& train, BatchSource& test);

  double best_accuracy() const { return best_accuracy_; }
  double images_per_s() const { return images_per_s_; }  // of the last epoch
  const Evaluation& last_evaluation() const { return last_eval_; }

 private:
  struct EpochTotals;  // the training sums of one epoch
  void end_epoch(const PhaseOptions& o, int epoch, models::Module& net, Optimizer& opt,
                 BatchSource& test, const EpochTotals& totals, double seconds);
  // Rank 0's part of end_epoch: the epoch's line (stdout, log.jsonl) and the
  // checkpoints (best.safetensors too when new_best).
  void write_epoch(const PhaseOptions& o, int epoch, const models::Module& net,
                   const Optimizer& opt, const EpochTotals& totals, double seconds, bool met,
                   bool new_best);

  // One trajectory record of `net` after `step` updates of the phase.
  void record_trajectory(const PhaseOptions& o, int epoch, std::int64_t step,
                         const models::Module& net);

  std::string run_dir_;
  std::ofstream log_, trajectory_;
  double best_accuracy_;
  std::int64_t stop_after_, epochs_done_ = 0;
  std::map<std::string, std::string> metadata_;
  double images_per_s_ = 0;
  Evaluation last_eval_;
  bool tty_;
  bool warned_single_batch_ = false;
  Distributed& dist_;
};

}  // namespace mpq::train
