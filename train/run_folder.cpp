#include "train/run_folder.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"

namespace mpq::train {

namespace {

// A whole-string integer (std::int64_t) or finite number (double) from a
// checkpoint's metadata (std::stoi would take "7x" as 7 and throw a bare
// "stoi" on "x").
template <class T>
T metadata_value(const Checkpoint& ck, const std::string& key, const std::string& path) {
  const std::string& text = ck.metadata.at(key);
  T v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  MPQ_CHECK(ec == std::errc() && end == text.data() + text.size() && std::isfinite(double(v)), path,
            ": metadata '", key, "' is '", text, "', not ",
            std::is_integral_v<T> ? "an integer" : "a finite number");
  return v;
}

// A checkpoint that names its model (mpq writes "model" into every one) must
// name this one: resnet20 weights do not become a resnet32. `key` is also the
// flag's name.
void check_metadata_matches(const Checkpoint& ck, const std::string& path, const std::string& key,
                            const std::string& want, const std::string& prog) {
  auto it = ck.metadata.find(key);
  if (it == ck.metadata.end()) return;
  MPQ_CHECK(it->second == want, prog, ": ", path, " was written for ", key, " '", it->second,
            "', this run has --", key, " ", want);
}

}  // namespace

std::string ResumePoint::log_line() const {
  auto it = checkpoint.metadata.find("log_line");
  return it == checkpoint.metadata.end() ? std::string() : it->second;
}

RunFolder::RunFolder(std::string program, std::string path, bool resume)
    : program_(std::move(program)), path_(std::move(path)), resume_(resume) {
  std::error_code ec;
  MPQ_CHECK(!std::filesystem::exists(path_, ec) || std::filesystem::is_directory(path_, ec),
            program_, ": --run-dir ", path_, " exists and is not a folder");
}

void RunFolder::check_fresh() const {
  MPQ_CHECK(!std::filesystem::exists(file(kLastCheckpoint)), program_, ": ", path_,
            " already holds a run (last.safetensors); continue it with --resume or choose "
            "another --run-dir");
}

std::map<std::string, std::string> RunFolder::read_config(
    const std::map<std::string, std::string>& current, const std::set<std::string>& given,
    const std::set<std::string>& per_process,
    const std::map<std::string, std::string>& added_later) const {
  const std::string& prog = program_;
  const std::string config_path = file(kConfigFile);
  MPQ_CHECK(std::filesystem::exists(config_path), prog, ": cannot resume: ", config_path,
            " is missing (not a ", prog, " run folder?)");
  std::map<std::string, std::string> saved;
  const Json saved_json = Json::parse(mpq::read_file(config_path, prog),
                                      config_path);  // named: the loop must not outlive it
  for (const auto& [k, v] : saved_json.object())
    if (!per_process.count(k)) saved[k] = v.string();  // a non-string names file and key
  for (const auto& [k, v] : added_later)
    if (current.count(k)) saved.emplace(k, v);  // a run from before the flag existed
  // Every setting must be there: a missing one would silently take today's default.
  std::string missing;
  for (const auto& [k, v] : current)
    if (!per_process.count(k) && !saved.count(k))
      missing += (missing.empty() ? "'" : ", '") + k + "'";
  MPQ_CHECK(missing.empty(), prog, ": cannot resume: ", config_path, " lacks the setting",
            missing.find(',') == std::string::npos ? " " : "s ", missing,
            " (written by another version of ", prog, ", or edited?)");
  std::string conflicts;
  for (const auto& [k, v] : saved) {
    MPQ_CHECK(current.count(k), prog, ": cannot resume: ", config_path, " has the setting '", k,
              "', which ", prog, " does not know (a run of another program?)");
    if (given.count(k) && current.at(k) != v)
      conflicts += "\n  --" + k + " " + current.at(k) + " (the run used " + v + ")";
  }
  MPQ_CHECK(conflicts.empty(), prog,
            ": --resume with settings that differ from the run's:", conflicts);
  return saved;
}

ResumePoint RunFolder::read_resume_point(int float_epochs, int quant_epochs,
                                         const std::map<std::string, std::string>& identity) const {
  const std::string& prog = program_;
  const std::string last_path = file(kLastCheckpoint);
  ResumePoint point;
  if (!resume_) return point;
  // A run killed before its first checkpoint has config.json and nothing
  // else worth keeping: --resume starts it from the beginning.
  if (!std::filesystem::exists(last_path)) {
    std::printf("resuming: %s has no checkpoint yet; starting the run from its beginning\n",
                path_.c_str());
    return point;
  }
  Checkpoint ck = load_checkpoint(last_path);
  for (const char* key : {"phase", "epoch", "best_test_accuracy"})
    MPQ_CHECK(ck.metadata.count(key), prog, ": ", last_path, " has no '", key,
              "' in its metadata (not a last.safetensors of ", prog, "?)");
  const std::string phase = ck.metadata.at("phase");
  MPQ_CHECK(phase == "float" || phase == "quant", prog, ": ", last_path, " has the phase '", phase,
            "' (expected float or quant)");
  const int phase_epochs = phase == "float" ? float_epochs : quant_epochs;
  const std::int64_t ep = metadata_value<std::int64_t>(ck, "epoch", last_path);
  MPQ_CHECK(ep >= 0 && ep <= phase_epochs, prog, ": ", last_path, " records epoch ", ep, " of the ",
            phase, " phase, which has ", phase_epochs, " epochs");
  const double best = metadata_value<double>(ck, "best_test_accuracy", last_path);
  MPQ_CHECK(best == -1 || (best >= 0 && best <= 1), prog, ": ", last_path,
            ": metadata 'best_test_accuracy' is ", best, " (expected -1 or an accuracy in [0, 1])");
  for (const auto& [key, want] : identity) check_metadata_matches(ck, last_path, key, want, prog);
  point.phase = phase;
  point.epoch = static_cast<int>(ep);
  point.best_accuracy = best;
  point.checkpoint = std::move(ck);
  std::printf("resuming %s phase after epoch %d from %s\n", point.phase.c_str(), point.epoch,
              last_path.c_str());
  return point;
}

void RunFolder::restore(const ResumePoint& point, models::Module& net, Optimizer& opt) const {
  try {
    net.load_state_dict(tensors_under(point.checkpoint, "model."));
    opt.load_state(tensors_under(point.checkpoint, "optim."));
  } catch (const Error& err) {
    MPQ_FAIL(program_, ": cannot resume from ", file(kLastCheckpoint), ": ", err.what());
  }
}

void RunFolder::load_float_init(const std::string& path, const std::string& model,
                                models::Module& net) const {
  const std::string& prog = program_;
  const Checkpoint float_init = load_checkpoint(path);
  auto phase_it = float_init.metadata.find("phase");
  MPQ_CHECK(phase_it == float_init.metadata.end() || phase_it->second == "float", prog,
            ": --float-init ", path, " is a checkpoint of the '", phase_it->second,
            "' phase; it takes a float network (RUN/float.safetensors)");
  check_metadata_matches(float_init, path, "model", model, prog);
  try {
    net.load_state_dict(tensors_under(float_init, "model."));
  } catch (const Error& err) {
    MPQ_FAIL(prog, ": --float-init ", path, " does not fit --model ", model, ": ", err.what());
  }
}

void RunFolder::create(const std::map<std::string, std::string>& settings) const {
  {
    std::error_code ec;
    std::filesystem::create_directories(path_, ec);
    MPQ_CHECK(!ec, program_, ": cannot create the run folder ", path_, ": ", ec.message());
  }
  if (resume_) return;  // config.json is written once, by the fresh run
  Json cfg = Json::Object{};
  for (const auto& [k, v] : settings) cfg[k] = v;
  mpq::write_file_atomic(file(kConfigFile), cfg.dump() + "\n");
}

void RunFolder::save_float(const models::Module& net, int epochs, const std::string& model) const {
  Checkpoint fck;
  for (const auto& [k, v] : net.state_dict()) fck.tensors.emplace_back("model." + k, v);
  fck.metadata = {{"phase", "float"}, {"epoch", std::to_string(epochs)}, {"model", model}};
  save_checkpoint(file(kFloatCheckpoint), fck);
}

void RunFolder::write_summary(const Json& summary) const {
  mpq::write_file_atomic(file(kSummaryFile), summary.dump() + "\n");
}

void RunFolder::write_quantizers(const models::QuantSummary& qs) const {
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
  mpq::write_file_atomic(file(kQuantizersFile), Json(rows).dump() + "\n");
}

}  // namespace mpq::train
