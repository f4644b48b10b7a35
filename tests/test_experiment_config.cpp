// examples::ExperimentConfig: the flags, a preset and a resumed run's
// config.json read once into typed settings, with the checks the programs'
// script tests (hostile_runs.cmake) see from outside.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "examples/args.h"
#include "examples/experiment_config.h"
#include "temp_dir.h"
#include "train/run_folder.h"

using namespace mpq;
using Catch::Matchers::Contains;
using examples::MemoryTarget;
using examples::Mode;

namespace {

const std::vector<std::string> kModels{"resnet20", "resnet32"};

// The experiment flags parsed from `words` (without the program name).
examples::Args flags(std::vector<std::string> words) {
  examples::Args args("prog", "");
  examples::ExperimentDefaults defaults;
  defaults.model = "resnet20";
  examples::add_experiment_flags(args, defaults);
  words.insert(words.begin(), "prog");
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  REQUIRE(args.parse(static_cast<int>(argv.size()), argv.data()));
  return args;
}

examples::ExperimentConfig parse(std::vector<std::string> words) {
  return examples::parse_experiment_config("prog", kModels, flags(std::move(words)));
}

std::string error_of(std::vector<std::string> words) {
  try {
    parse(std::move(words));
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("experiment config: the defaults, typed", "[examples][config]") {
  const examples::ExperimentConfig c = parse({});
  CHECK(c.mode == Mode::learned);
  CHECK(c.quantize == examples::Quantized::all);
  CHECK(c.optimizer == examples::OptimizerKind::sgd);
  CHECK(c.model == "resnet20");
  CHECK(c.quantizers.param == quant::Parametrization::U3);
  CHECK(c.quantizers.wbits == 4);  // the learned mode starts at --bits
  CHECK(c.quantizers.abits == 4);
  CHECK(c.float_phase.epochs == 2);
  CHECK(c.float_phase.lr == 0.1);
  CHECK(c.quant_phase.lr == 0.02);
  CHECK(c.float_phase.schedule == "cosine");
  CHECK(c.weight_target.kind == MemoryTarget::Kind::automatic);
  CHECK(c.act_max_target.kind == MemoryTarget::Kind::automatic);
  CHECK(c.act_sum_target.kind == MemoryTarget::Kind::none);
  CHECK(c.quantizes_weights());
  CHECK(c.quantizes_activations());
  CHECK(c.float_init.empty());
  CHECK(c.experiment.empty());
}

TEST_CASE("experiment config: modes, optimizers, phases and targets", "[examples][config]") {
  const examples::ExperimentConfig f =
      parse({"--mode",           "learn-qmax", "--wbits",    "3",       "--abits",         "5",
             "--optimizer",      "adam",       "--quantize", "weights", "--warmup",        "2",
             "--schedule",       "step:3",     "--epochs",   "7",       "--weight-target", "12.5",
             "--act-max-target", "auto"});
  CHECK(f.mode == Mode::learn_qmax);
  CHECK(f.optimizer == examples::OptimizerKind::adam);
  CHECK(f.quantizers.wbits == 3);
  CHECK(f.quantizers.abits == 5);
  CHECK(f.float_phase.warmup == 2);
  CHECK(f.quant_phase.warmup == 2);
  CHECK(f.quant_phase.schedule == "step:3");
  CHECK(f.quant_phase.epochs == 7);
  CHECK(f.weight_target.kind == MemoryTarget::Kind::kb);
  CHECK(f.weight_target.resolve(99) == 12.5);
  // 'auto' on activations that stay float (--quantize weights) is no target.
  CHECK_FALSE(f.quantizes_activations());
  CHECK(f.act_max_target.kind == MemoryTarget::Kind::none);
  CHECK_FALSE(f.act_max_target.resolve(8).has_value());
  CHECK(MemoryTarget{MemoryTarget::Kind::automatic, 0}.resolve(8) == 8);

  const examples::ExperimentConfig fl = parse({"--mode", "float"});
  CHECK(fl.mode == Mode::float_network);
  CHECK_FALSE(fl.quantizes_weights());
  CHECK(fl.weight_target.kind == MemoryTarget::Kind::none);

  for (Mode m : {Mode::float_network, Mode::fixed, Mode::learn_qmax, Mode::learned})
    CHECK(parse({"--mode", std::string(examples::mode_name(m))}).mode == m);
  CHECK(examples::quantized_name(examples::Quantized::weights) == "weights");
}

TEST_CASE("experiment config: refused flags name themselves", "[examples][config]") {
  CHECK_THAT(error_of({"--mode", "half"}),
             Contains("prog: --mode must be learned, fixed, learn-qmax or float, got 'half'"));
  CHECK_THAT(error_of({"--mode", "fixed", "--bits", "3"}),
             Contains("--bits has no effect with --mode fixed"));
  CHECK_THAT(error_of({"--wbits", "3"}), Contains("--wbits has no effect with --mode learned"));
  CHECK_THAT(error_of({"--optimizer", "rmsprop"}), Contains("--optimizer must be sgd or adam"));
  CHECK_THAT(error_of({"--model", "resnet56"}),
             Contains("--model must be one of resnet20, resnet32, got 'resnet56'"));
  CHECK_THAT(error_of({"--mode", "float", "--weight-target", "70"}),
             Contains("--weight-target targets tensors that stay float with --mode float"));
  CHECK_THAT(error_of({"--lr", "nan"}), Contains("--lr expects a finite number"));
  CHECK_THAT(error_of({"--batch-size", "1"}), Contains("--batch-size = 1 is outside [2, 65536]"));
}

TEST_CASE("experiment config: a resumed run's config.json is one more source of flags",
          "[examples][config]") {
  test::TempDir dir;
  const train::RunFolder run("prog", dir.file(""), true);
  // Every setting of this program, as a fresh run saves them, with the mode changed.
  std::string json = "{";
  examples::Args defaults = flags({});
  for (const auto& [k, v] : defaults.values())
    if (!examples::per_process_flags().count(k))
      json += (json.size() > 1 ? ", \"" : "\"") + k + "\": \"" +
              (k == "mode" ? std::string("fixed") : v) + "\"";
  dir.write("config.json", json + "}");
  {
    examples::Args args = flags({"--resume", "--threads", "1"});
    const examples::ExperimentConfig c =
        examples::load_experiment_config("prog", kModels, examples::per_process_flags(), args, run);
    CHECK(c.mode == Mode::fixed);  // from config.json
    CHECK(c.threads == 1);         // per process: from the command line
  }
  {
    examples::Args args = flags({"--resume", "--mode", "learned"});
    std::string msg;
    try {
      examples::load_experiment_config("prog", kModels, examples::per_process_flags(), args, run);
    } catch (const Error& e) {
      msg = e.what();
    }
    CHECK_THAT(msg, Contains("prog: --resume with settings that differ from the run's:\n  --mode "
                             "learned (the run used fixed)"));
  }
}
