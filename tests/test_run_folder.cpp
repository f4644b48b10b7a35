// train::RunFolder: what a run folder refuses before anything is written,
// and what it writes (the programs' script tests, hostile_runs.cmake and
// kill_resume.sh, drive it from outside).
#include <catch2/catch.hpp>
#include <filesystem>

#include "core/error.h"
#include "core/file_io.h"
#include "models/zoo.h"
#include "temp_dir.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"
#include "train/run_folder.h"

using namespace mpq;
using Catch::Matchers::Contains;

namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

const std::map<std::string, std::string> kIdentity{
    {"model", "lenet5"}, {"param", "U3"}, {"seed", "1"}};

// A last.safetensors as train::Trainer writes it, with `meta` changed.
void write_last(const test::TempDir& dir, const std::map<std::string, std::string>& meta) {
  auto net = models::make_model("lenet5", {});
  train::Checkpoint ck;
  for (const auto& [k, v] : net->state_dict()) ck.tensors.emplace_back("model." + k, v);
  ck.metadata = kIdentity;
  ck.metadata["phase"] = "float";
  ck.metadata["epoch"] = "1";
  ck.metadata["best_test_accuracy"] = "-1";
  ck.metadata["log_line"] = R"({"epoch": 1})";
  for (const auto& [k, v] : meta) ck.metadata[k] = v;
  train::save_checkpoint(dir.file(train::kLastCheckpoint), ck);
}

}  // namespace

TEST_CASE("run folder: nothing is written before create, config.json once", "[train][run]") {
  test::TempDir dir;
  const std::string path = dir.file("run");
  CHECK_THAT(error_of([&] { train::RunFolder("prog", dir.file("x"), false); }),
             Contains("(no error)"));
  dir.write("file", "x");
  CHECK_THAT(error_of([&] { train::RunFolder("prog", dir.file("file"), false); }),
             Contains("prog: --run-dir " + dir.file("file") + " exists and is not a folder"));
  const train::RunFolder fresh("prog", path, false);
  fresh.check_fresh();
  CHECK(fresh.read_resume_point(2, 2, kIdentity).phase.empty());
  CHECK_FALSE(std::filesystem::exists(path));
  fresh.create({{"mode", "learned"}});
  CHECK(read_file(path + "/config.json", "test") == "{\"mode\": \"learned\"}\n");
  // A resumed run never rewrites it.
  train::RunFolder("prog", path, true).create({{"mode", "fixed"}});
  CHECK(read_file(path + "/config.json", "test") == "{\"mode\": \"learned\"}\n");
}

TEST_CASE("run folder: config.json must hold exactly this program's settings", "[train][run]") {
  test::TempDir dir;
  const train::RunFolder run("prog", dir.file(""), true);
  const std::map<std::string, std::string> current{{"lr", "0.1"}, {"mode", "learned"}};
  const std::set<std::string> per_process{"threads"};
  CHECK_THAT(error_of([&] { run.read_config(current, {}, per_process); }),
             Contains("config.json is missing (not a prog run folder?)"));
  dir.write("config.json", R"({"mode": "fixed", "threads": "4"})");
  CHECK_THAT(error_of([&] { run.read_config(current, {}, per_process); }),
             Contains("lacks the setting 'lr'"));
  dir.write("config.json", R"({"lr": "0.1", "mode": "fixed", "zzz": "1"})");
  CHECK_THAT(error_of([&] { run.read_config(current, {}, per_process); }),
             Contains("has the setting 'zzz', which prog does not know"));
  dir.write("config.json", R"({"lr": "0.1", "mode": "fixed", "threads": "4"})");
  CHECK_THAT(error_of([&] { run.read_config(current, {"mode"}, per_process); }),
             Contains("--mode learned (the run used fixed)"));
  const auto saved = run.read_config(current, {"lr"}, per_process);
  CHECK(saved == std::map<std::string, std::string>{{"lr", "0.1"}, {"mode", "fixed"}});
  // A setting added after the run was made takes the value such runs used;
  // one the run has keeps its own.
  const std::map<std::string, std::string> newer{
      {"lr", "0.1"}, {"mode", "learned"}, {"sync-bn", "off"}};
  CHECK(run.read_config(newer, {}, per_process, {{"sync-bn", "on"}}) ==
        std::map<std::string, std::string>{{"lr", "0.1"}, {"mode", "fixed"}, {"sync-bn", "on"}});
  CHECK_THAT(error_of([&] { run.read_config(newer, {}, per_process); }),
             Contains("lacks the setting 'sync-bn'"));
  dir.write("config.json", R"({"lr": "0.1", "mode": "fixed", "sync-bn": "off"})");
  CHECK(run.read_config(newer, {}, per_process, {{"sync-bn", "on"}}).at("sync-bn") == "off");
}

TEST_CASE("run folder: last.safetensors is checked before a run resumes from it", "[train][run]") {
  test::TempDir dir;
  const train::RunFolder run("prog", dir.file(""), true);
  write_last(dir, {});
  const train::ResumePoint p = run.read_resume_point(2, 3, kIdentity);
  CHECK(p.from_checkpoint());
  CHECK(p.phase == "float");
  CHECK(p.epoch == 1);
  CHECK(p.best_accuracy == -1);
  CHECK(p.log_line() == R"({"epoch": 1})");
  auto net = models::make_model("lenet5", {});
  train::Sgd opt(net->parameters(), {.lr = 0.1});
  CHECK_THAT(error_of([&] { run.restore(p, *net, opt); }), Contains("prog: cannot resume from"));

  write_last(dir, {{"phase", "eval"}});
  CHECK_THAT(error_of([&] { run.read_resume_point(2, 3, kIdentity); }),
             Contains("has the phase 'eval' (expected float or quant)"));
  write_last(dir, {{"epoch", "3"}});
  CHECK_THAT(error_of([&] { run.read_resume_point(2, 3, kIdentity); }),
             Contains("records epoch 3 of the float phase, which has 2 epochs"));
  write_last(dir, {{"best_test_accuracy", "x"}});
  CHECK_THAT(error_of([&] { run.read_resume_point(2, 3, kIdentity); }),
             Contains("metadata 'best_test_accuracy' is 'x', not a finite number"));
  write_last(dir, {{"seed", "2"}});
  CHECK_THAT(error_of([&] { run.read_resume_point(2, 3, kIdentity); }),
             Contains("was written for seed '2', this run has --seed 1"));
}
