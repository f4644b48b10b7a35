#include "train/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/autograd.h"
#include "core/file_io.h"
#include "core/stopwatch.h"
#include "models/layers.h"
#include "models/quant_summary.h"
#include "ops/cross_entropy.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "train/checkpoint.h"
#include "train/json.h"
#include "train/run_folder.h"
#include "train/schedule.h"

namespace mpq::train {

namespace {

// A double as text that reads back to the same value.
std::string full_precision(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

[[noreturn]] void non_finite(double v, const std::string& what, int epoch, std::int64_t step) {
  throw Diverged(detail::concat(
      "training stopped: non-finite value (", v, ") in ", what, " at epoch ", epoch, ", step ",
      step, "; nothing was saved over the last good checkpoint (try a smaller learning rate)"));
}

// P1 and P2 derive one end of their range from the bitwidth: P1 q_min =
// q_max 2^-(2^n - 1), P2 q_max = q_min 2^(2^n - 1) (n = b less the sign and
// zero bits). At b = 8 a signed P2 weight quantizer multiplies q_min by
// 2^127, so q_max overflows float32 once q_min >= 2: the forward has no
// defined result. Checked before every step, for P1/P2 quantizers only (one
// host read each), found once per phase.
std::vector<models::QuantSite> derived_range_sites(const models::Module& net) {
  std::vector<models::QuantSite> out;
  for (const models::QuantSite& site : net.quant_sites())
    if (site.quantizer && (site.quantizer->spec().param == quant::Parametrization::P1 ||
                           site.quantizer->spec().param == quant::Parametrization::P2))
      out.push_back(site);
  return out;
}

void check_derived_ranges(const std::vector<models::QuantSite>& sites, int epoch,
                          std::int64_t step) {
  for (const models::QuantSite& site : sites) {
    const quant::Quantizer* q = site.quantizer;
    const quant::QuantizerValues v = q->values();
    const auto qmin = static_cast<float>(v.qmin), qmax = static_cast<float>(v.qmax);
    if (std::isfinite(qmin) && std::isfinite(qmax) && qmin > 0) continue;
    throw Diverged(detail::concat("training stopped: quantizer ", site.name, " (", q->spec().str(),
                                  ", b = ", v.b, ") has q_min = ", v.qmin, ", q_max = ", v.qmax,
                                  ", outside float32's range (",
                                  quant::parametrization_name(q->spec().param),
                                  " derives one from the other and b) at epoch ", epoch, ", step ",
                                  step, "; nothing was saved over the last good checkpoint"));
  }
}

// Every parameter gradient must be finite. On the CPU each is scanned; on a
// GPU the largest |g| of every gradient (NaN wins in max) is gathered and read
// back once per step, and only a failure looks for the culprit.
void check_gradients_finite(const models::Module& net, int epoch, std::int64_t step) {
  const models::NamedTensors params = net.named_parameters();
  if (net.device().is_cpu()) {
    // Not a structured binding: clang (with -fopenmp) cannot capture one in the lambda.
    for (const auto& entry : params) {
      const std::string& name = entry.first;
      const Tensor& p = entry.second;
      if (!p.grad().defined()) continue;
      const Tensor c = p.grad().detach().contiguous();
      dispatch_floating(c.dtype(), "gradient check", [&]<class T>() {
        const T* v = c.data<T>();
        for (std::int64_t i = 0; i < c.numel(); ++i)
          if (!std::isfinite(v[i]))
            non_finite(static_cast<double>(v[i]), "the gradient of " + name, epoch, step);
      });
    }
    return;
  }
  NoGradGuard ng;
  std::vector<Tensor> peaks;
  std::vector<std::string> names;
  for (const auto& [name, p] : params)
    if (p.grad().defined() && p.grad().numel() > 0) {
      peaks.push_back(max(abs(p.grad())).to(DType::f64).reshape({1}));
      names.push_back(name);
    }
  if (peaks.empty()) return;
  const std::vector<double> v = concat(peaks, 0).to_vector<double>();
  for (std::size_t k = 0; k < v.size(); ++k)
    if (!std::isfinite(v[k])) non_finite(v[k], "the gradient of " + names[k], epoch, step);
}

// Rows of `logits` [B, K] whose label is the arg max (first maximum, as
// argmax) and whose label ranks among the k largest: rank = number of logits
// above the label's (a NaN counts as above), plus equal ones at a lower index;
// a NaN label logit ranks last, so a diverged network never scores.
void count_correct(const Tensor& logits, const Tensor& labels, std::int64_t k, std::int64_t& top1,
                   std::int64_t& topk) {
  const Tensor l = logits.detach().to(Device::cpu()).to(DType::f64).contiguous();
  const std::int64_t b = l.shape()[0], classes = l.shape()[1];
  const double* p = l.data<double>();
  const auto truth = labels.to_vector<std::int32_t>();
  for (std::int64_t i = 0; i < b; ++i) {
    const double* row = p + i * classes;
    const std::int32_t t = truth[static_cast<std::size_t>(i)];
    std::int64_t rank = 0;
    if (row[t] != row[t]) {
      rank = classes;
    } else {
      for (std::int64_t j = 0; j < classes; ++j)
        rank += row[j] > row[t] || row[j] != row[j] || (row[j] == row[t] && j < t);
    }
    top1 += rank == 0;
    topk += rank < k;
  }
}

}  // namespace

std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) {
  return a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL);
}

Evaluation evaluate(models::Module& net, BatchSource& data) {
  NoGradGuard ng;
  net.eval();
  Evaluation e;
  double loss = 0;
  std::int64_t top1 = 0, top5 = 0;
  Tensor x, y;
  const Device dev = net.device();
  data.start_epoch(0);
  while (data.next(x, y)) {
    if (!x.defined() || x.shape()[0] == 0) continue;  // an empty shard
    const std::int64_t m = x.shape()[0];
    const Tensor logits = net.forward(x.to(dev));
    loss += cross_entropy(logits, y.to(dev).contiguous()).item() * static_cast<double>(m);
    count_correct(logits, y, std::min<std::int64_t>(5, logits.shape()[1]), top1, top5);
    e.samples += m;
  }
  net.train();
  // Over every process (each evaluated its shard).
  std::vector<double> sums{loss, static_cast<double>(top1), static_cast<double>(top5),
                           static_cast<double>(e.samples)};
  Distributed::get().all_reduce(sums);
  loss = sums[0];
  top1 = static_cast<std::int64_t>(sums[1]);
  top5 = static_cast<std::int64_t>(sums[2]);
  e.samples = static_cast<std::int64_t>(sums[3]);
  MPQ_CHECK(e.samples > 0, "evaluate: the evaluation set is empty");
  const double n = static_cast<double>(e.samples);
  e.loss = loss / n;
  e.accuracy = static_cast<double>(top1) / n;
  e.top5 = static_cast<double>(top5) / n;
  return e;
}

struct Trainer::EpochTotals {
  double ce = 0, penalty = 0;
  double penalty_terms[3] = {0, 0, 0};  // weights, largest activation, sum of activations
  std::int64_t correct = 0, seen = 0;
};

namespace {
// A log line without its timing, as checkpoints keep it; "" for a line that is
// not a JSON object (it will not match).
std::string timeless(const std::string& line) {
  try {
    Json j = Json::parse(line, "log.jsonl");
    if (!j.is_object()) return "";
    j.object().erase("images_per_s");
    return j.dump();
  } catch (const Error&) {
    return "";
  }
}

// The lines of a file's text that end in '\n' (a last line without one was
// cut off by a kill).
std::vector<std::string> complete_lines(const std::string& text) {
  std::vector<std::string> lines;
  for (std::size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
    lines.push_back(text.substr(at, nl - at));
  return lines;
}

// trajectory.jsonl as a resumed run continues it: the complete lines up to
// the checkpoint's phase and epoch (from its log line); none without one.
void mend_trajectory(const std::string& path, const std::string& checkpoint_line) {
  if (!std::filesystem::exists(path)) return;
  std::string phase;
  std::int64_t epoch = -1;
  try {
    const Json j = Json::parse(checkpoint_line, "checkpoint log line");
    phase = j.at("phase").string();
    epoch = static_cast<std::int64_t>(j.at("epoch").number());
  } catch (const Error&) {
    phase.clear();  // no usable checkpoint line: the run starts over
  }
  auto order = [](const std::string& p) { return p == "float" ? 0 : p == "quant" ? 1 : 2; };
  const std::string text = read_file(path, "Trainer");
  std::string kept;
  for (const std::string& line : complete_lines(text)) {
    try {
      const Json j = Json::parse(line, path);
      const std::string p = j.at("phase").string();
      const auto e = static_cast<std::int64_t>(j.at("epoch").number());
      if (!phase.empty() && (order(p) < order(phase) || (p == phase && e <= epoch)))
        kept += line + "\n";
    } catch (const Error&) {  // a line cut off by a kill
    }
  }
  if (kept != text) write_file_atomic(path, kept);
}

// log.jsonl as a resumed run continues it (see the constructor's comment).
void mend_log(const std::string& path, const std::string& checkpoint_line) {
  std::string text;
  if (std::filesystem::exists(path)) text = read_file(path, "Trainer");
  std::vector<std::string> lines = complete_lines(text);
  if (!checkpoint_line.empty()) {
    auto it = std::find_if(lines.rbegin(), lines.rend(),
                           [&](const std::string& l) { return timeless(l) == checkpoint_line; });
    if (it == lines.rend())
      lines.push_back(checkpoint_line);  // killed after the checkpoint, before its line
    else
      lines.erase(it.base(), lines.end());
  }
  std::string mended;
  for (const auto& l : lines) mended += l + "\n";
  if (mended != text) write_file_atomic(path, mended);
}
}  // namespace

Trainer::Trainer(std::string run_dir, bool append_log, double best_accuracy,
                 std::int64_t stop_after, std::map<std::string, std::string> metadata,
                 const std::string& resume_log_line)
    : run_dir_(std::move(run_dir)),
      best_accuracy_(best_accuracy),
      stop_after_(stop_after),
      metadata_(std::move(metadata)),
      tty_(isatty(fileno(stderr)) != 0),
      dist_(Distributed::get()) {
  if (!dist_.is_root()) {  // rank 0 alone writes the run folder and the progress line
    tty_ = false;
    return;
  }
  const std::string path = run_dir_ + "/" + kLogFile;
  if (append_log) mend_log(path, resume_log_line);
  log_.open(path, append_log ? std::ios::app : std::ios::trunc);
  MPQ_CHECK(log_.good(), "cannot write ", path);
  const std::string trajectory = run_dir_ + "/" + kTrajectoryFile;
  if (append_log) mend_trajectory(trajectory, resume_log_line);
  trajectory_.open(trajectory, append_log ? std::ios::app : std::ios::trunc);
  MPQ_CHECK(trajectory_.good(), "cannot write ", trajectory);
}

void Trainer::record_trajectory(const PhaseOptions& o, int epoch, std::int64_t step,
                                const models::Module& net) {
  if (!dist_.is_root()) return;
  Json quantizers = Json::Object{};
  for (const models::QuantSite& site : net.quant_sites()) {
    if (!site.quantizer) continue;
    const quant::QuantizerValues v = site.quantizer->values();
    quantizers[site.name] =
        Json::Object{{"b", v.b}, {"d", v.d}, {"qmax", v.qmax}, {"qmin", v.qmin}};
  }
  Json line = Json::Object{};
  line["phase"] = o.name;
  line["epoch"] = epoch;
  line["step"] = step;
  line["quantizers"] = quantizers;
  trajectory_ << line.dump() << "\n";
  trajectory_.flush();
  MPQ_CHECK(trajectory_.good(), "cannot write ", run_dir_, "/", kTrajectoryFile);
}

void Trainer::run_phase(const PhaseOptions& o, models::Module& net, Optimizer& opt,
                        BatchSource& train, BatchSource& test) {
  Schedule sched = Schedule::parse(o.schedule, o.lr, o.epochs);
  sched.warmup = o.warmup_epochs;
  const std::int64_t n = train.size(), batch = train.batch_size();
  const std::int64_t steps_per_epoch = (n + batch - 1) / batch;
  const bool penalised = o.quantized && o.targets.any();
  const std::optional<double>* target[3] = {&o.targets.weight_kb, &o.targets.act_max_kb,
                                            &o.targets.act_sum_kb};
  Tensor x, y;
  const Device dev = net.device();  // batches are copied there
  const std::vector<models::QuantSite> derived =
      o.quantized ? derived_range_sites(net) : std::vector<models::QuantSite>{};
  const bool multi = dist_.multi();
  const double world = static_cast<double>(dist_.size());
  // Every trained tensor (weights, batch norm, quantizer parameters), in one
  // order on every process: their gradients are averaged after each backward.
  std::vector<Tensor> trained;
  for (const ParamGroup& g : opt.groups())
    trained.insert(trained.end(), g.params.begin(), g.params.end());
  if (multi) {
    // Every process starts from rank 0's network and optimizer state.
    std::vector<Tensor> state;
    for (const auto& [k, v] : net.state_dict()) state.push_back(v);
    for (const auto& [k, v] : opt.state()) state.push_back(v);
    dist_.broadcast(state, 0);
    if (o.sync_batch_norm)
      models::set_batch_norm_sync(net, [this](Tensor& t) { dist_.all_reduce({t}); });
  }
  std::vector<Tensor> grads;
  // Trajectory records: every `interval` steps of the phase's `total`.
  bool has_quantizers = false;
  for (const models::QuantSite& site : net.quant_sites())
    has_quantizers |= site.quantizer != nullptr;
  const std::int64_t total = static_cast<std::int64_t>(o.epochs) * steps_per_epoch;
  const std::int64_t interval =
      has_quantizers && o.trajectory_points > 0
          ? std::max<std::int64_t>(1, (total + o.trajectory_points - 1) / o.trajectory_points)
          : 0;
  if (interval > 0 && o.first_epoch == 0) record_trajectory(o, 0, 0, net);
  for (int epoch = o.first_epoch + 1; epoch <= o.epochs; ++epoch) {
    const Stopwatch epoch_time;
    train.start_epoch(
        mix_seed(mix_seed(o.seed, o.quantized ? 2 : 1), static_cast<std::uint64_t>(epoch)));
    EpochTotals tot;
    net.train();
    for (std::int64_t s = 0; train.next(x, y); ++s) {
      // This process's slice (m_local) of the whole batch (m).
      const std::int64_t m_local = x.defined() ? x.shape()[0] : 0;
      std::int64_t m = m_local;
      bool empty_slice = m_local == 0, single_slice = false;
      if (multi) {
        std::vector<double> c{static_cast<double>(m_local), m_local == 0 ? 1.0 : 0.0,
                              m_local == 1 ? 1.0 : 0.0};
        dist_.all_reduce(c);
        m = static_cast<std::int64_t>(c[0]);
        empty_slice = c[1] > 0;
        // Batch norm per process (--sync-bn off) cannot train on one image
        // either: a slice of one would stop that process alone.
        single_slice = !o.sync_batch_norm && c[2] > 0;
      }
      if ((m == 1 && batch > 1) || empty_slice || single_slice) {
        // Only the last batch can hold one image (N = k * batch + 1): batch
        // norm cannot train on one value per channel, so it sits out; so
        // does a last batch smaller than the number of processes.
        if (!warned_single_batch_ && dist_.is_root()) {
          const std::string processes =
              multi ? detail::concat(", ", dist_.size(), " processes") : std::string();
          std::fprintf(stderr,
                       "note: the last training batch holds %lld image%s (%lld images, batch size "
                       "%lld%s); %s, so it is left out of each epoch\n",
                       static_cast<long long>(m), m == 1 ? "" : "s", static_cast<long long>(n),
                       static_cast<long long>(batch), processes.c_str(),
                       m == 1         ? "batch norm cannot train on one"
                       : single_slice ? "batch norm per process cannot train on a slice of one"
                                      : "some process would have none of it");
        }
        warned_single_batch_ = true;
        continue;
      }
      const std::int64_t global_step = static_cast<std::int64_t>(epoch - 1) * steps_per_epoch + s;
      check_derived_ranges(derived, epoch, global_step);
      opt.set_lr(sched.at(static_cast<double>(epoch - 1) +
                          static_cast<double>(s) / static_cast<double>(steps_per_epoch)));
      const Tensor logits = net.forward(x.to(dev));
      const Tensor ce = cross_entropy(logits, y.to(dev));
      // Each process's share of the whole batch's mean cross-entropy, times
      // N for the averaging of the gradients (see the header).
      Tensor loss =
          multi ? mul(ce, static_cast<double>(m_local) * world / static_cast<double>(m)) : ce;
      double penalty = 0;
      if (penalised) {
        const MemoryTerms mt = memory_terms(net, o.targets);
        loss = add(loss, mt.penalty.to(ce.dtype()));
        penalty = mt.penalty.item();
        // Each term on its own, for the log: lambda relu(kB - target)^2.
        const Tensor* kb[3] = {&mt.weight_kb, &mt.act_max_kb, &mt.act_sum_kb};
        for (int k = 0; k < 3; ++k)
          if (*target[k]) {
            const double over = std::max(0.0, kb[k]->item() - **target[k]);
            tot.penalty_terms[k] += o.targets.lambda * over * over * static_cast<double>(m);
          }
      }
      // The whole batch's cross-entropy and correct predictions.
      const auto pred = argmax(logits, 1).to_vector<std::int32_t>();
      const auto truth = y.to_vector<std::int32_t>();
      std::int64_t correct = 0;
      for (std::int64_t i = 0; i < m_local; ++i)
        correct += pred[static_cast<std::size_t>(i)] == truth[static_cast<std::size_t>(i)];
      std::vector<double> sums{ce.item() * static_cast<double>(m_local),
                               static_cast<double>(correct)};
      if (multi) dist_.all_reduce(sums);
      const double batch_ce = multi ? sums[0] / static_cast<double>(m) : ce.item();
      const double l = multi ? batch_ce + penalty : loss.item();
      if (!std::isfinite(l)) non_finite(l, "the loss", epoch, global_step);
      opt.zero_grad();
      loss.backward();
      if (multi) {
        grads.clear();
        for (const Tensor& p : trained)
          if (p.grad().defined()) grads.push_back(p.grad());
        dist_.all_reduce(grads, Reduce::average);
      }
      check_gradients_finite(net, epoch, global_step);
      if (o.quantized && o.quantizer_l2 > 0)
        add_l2_to_gradients(net.quantizer_parameters(), o.quantizer_l2);
      if (penalised) clip_quantizer_gradients(net);
      opt.step();
      if (o.quantized) clip_quantizer_parameters(net);
      if (interval > 0 && ((global_step + 1) % interval == 0 || global_step + 1 == total))
        record_trajectory(o, epoch, global_step + 1, net);
      tot.ce += batch_ce * static_cast<double>(m);
      tot.penalty += penalty * static_cast<double>(m);
      tot.correct += static_cast<std::int64_t>(sums[1]);
      tot.seen += m;
      if (tty_ && (s % 5 == 0 || tot.seen == n)) {
        const double secs = epoch_time.seconds(),
                     rate = static_cast<double>(tot.seen) / std::max(secs, 1e-9);
        const int filled = static_cast<int>(30 * std::min(tot.seen, n) / n);
        std::fprintf(
            stderr, "\r%s %d/%d [%.*s%*s] %3d%%  loss %.4f  acc %5.2f%%  %4.0f img/s  ETA %4.0fs ",
            o.name.c_str(), epoch, o.epochs, filled, "##############################", 30 - filled,
            "", static_cast<int>(100 * std::min(tot.seen, n) / n),
            tot.ce / static_cast<double>(tot.seen),
            100.0 * static_cast<double>(tot.correct) / static_cast<double>(tot.seen), rate,
            static_cast<double>(std::max<std::int64_t>(n - tot.seen, 0)) / std::max(rate, 1e-9));
        std::fflush(stderr);
      }
    }
    MPQ_CHECK(tot.seen > 0, "training: epoch ", epoch, " of the ", o.name,
              " phase had no batches (empty training set?)");
    if (multi && !o.sync_batch_norm) {
      // Each process's running statistics saw its slices only: their average
      // is what every process evaluates and rank 0 saves.
      std::vector<Tensor> stats;
      for (const auto& [k, v] : net.named_buffers())
        if (is_floating(v.dtype())) stats.push_back(v);
      dist_.all_reduce(stats, Reduce::average);
    }
    // The last update of the epoch, before evaluation and the checkpoint.
    check_derived_ranges(derived, epoch, static_cast<std::int64_t>(epoch) * steps_per_epoch);
    end_epoch(o, epoch, net, opt, test, tot, epoch_time.seconds());
  }
}

void Trainer::end_epoch(const PhaseOptions& o, int epoch, models::Module& net, Optimizer& opt,
                        BatchSource& test, const EpochTotals& tot, double secs) {
  images_per_s_ = static_cast<double>(tot.seen) / secs;
  if (tty_) std::fprintf(stderr, "\r\033[K");
  last_eval_ = evaluate(net, test);
  // The same decisions on every process (identical parameters, an evaluation
  // reduced over all of them); rank 0 alone prints and writes.
  const bool met = !o.quantized || constraints_met(net, o.targets);
  const bool new_best = o.quantized && met && last_eval_.accuracy > best_accuracy_;
  if (new_best) best_accuracy_ = last_eval_.accuracy;
  if (dist_.is_root()) write_epoch(o, epoch, net, opt, tot, secs, met, new_best);
  if (stop_after_ > 0 && ++epochs_done_ == stop_after_) throw StopRequested{};
}

void Trainer::write_epoch(const PhaseOptions& o, int epoch, const models::Module& net,
                          const Optimizer& opt, const EpochTotals& tot, double secs, bool met,
                          bool new_best) {
  const double seen = static_cast<double>(tot.seen);
  // Memory and constraints (activation sizes from the evaluation's forward).
  const models::QuantSummary qs = models::quant_summary(net);
  std::printf(
      "%s epoch %d/%d  ce %.4f  penalty %.4f  train acc %.2f%%  test acc %.2f%%  W %.1f kB "
      "(%.2f b)  Amax %.1f kB  Asum %.1f kB  %s  %.0f img/s  %.0fs\n",
      o.name.c_str(), epoch, o.epochs, tot.ce / seen, tot.penalty / seen,
      100.0 * static_cast<double>(tot.correct) / seen, 100 * last_eval_.accuracy, qs.weight_kb,
      qs.mean_weight_bits, qs.max_activation_kb, qs.sum_activation_kb,
      o.quantized ? (met ? "targets met" : "targets NOT met") : "float", images_per_s_, secs);
  std::fflush(stdout);
  Json line = Json::Object{};
  line["phase"] = o.name;
  line["epoch"] = epoch;
  line["train_ce"] = tot.ce / seen;
  line["train_penalty"] = tot.penalty / seen;
  line["train_penalty_weights"] = tot.penalty_terms[0] / seen;
  line["train_penalty_act_max"] = tot.penalty_terms[1] / seen;
  line["train_penalty_act_sum"] = tot.penalty_terms[2] / seen;
  line["train_accuracy"] = static_cast<double>(tot.correct) / seen;
  line["test_loss"] = last_eval_.loss;
  line["test_accuracy"] = last_eval_.accuracy;
  line["test_top5"] = last_eval_.top5;
  line["weight_kb"] = qs.weight_kb;
  line["activation_kb_max"] = qs.max_activation_kb;
  line["activation_kb_sum"] = qs.sum_activation_kb;
  line["mean_weight_bits"] = qs.mean_weight_bits;
  line["constraints_met"] = met;
  line["lr"] = opt.lr();
  // The checkpoint keeps its epoch's line for mending the log on resume
  // (mend_log), without the speed: a resumed run's checkpoints must equal an
  // uninterrupted run's byte for byte.
  const std::string timeless_line = line.dump();
  line["images_per_s"] = images_per_s_;
  // Checkpoints: best (quantized phase, targets met), then last.
  Checkpoint ck;
  for (const auto& [k, v] : net.state_dict()) ck.tensors.emplace_back("model." + k, v);
  for (const auto& [k, v] : opt.state()) ck.tensors.emplace_back("optim." + k, v);
  if (new_best) {
    ck.metadata = metadata_;
    ck.metadata["phase"] = o.name;
    ck.metadata["epoch"] = std::to_string(epoch);
    ck.metadata["test_accuracy"] = std::to_string(last_eval_.accuracy);
    save_checkpoint(run_dir_ + "/" + kBestCheckpoint, ck);
  }
  ck.metadata = metadata_;
  ck.metadata["phase"] = o.name;
  ck.metadata["epoch"] = std::to_string(epoch);
  ck.metadata["best_test_accuracy"] = full_precision(best_accuracy_);
  ck.metadata["log_line"] = timeless_line;
  save_checkpoint(run_dir_ + "/" + kLastCheckpoint, ck);
  // Logged once the epoch is safely checkpointed, so a resumed run never
  // repeats a line.
  log_ << line.dump() << "\n";
  log_.flush();
  MPQ_CHECK(log_.good(), "cannot write ", run_dir_, "/", kLogFile);
}

}  // namespace mpq::train
