#include "examples/run_network.h"

#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/file_io.h"
#include "models/zoo.h"
#include "train/checkpoint.h"
#include "train/json.h"

namespace mpq::examples {

void fit_to_state(const std::string& model, const models::NamedTensors& state,
                  models::ModelOptions& options) {
  // The names of the stem's and the classifier's weights, from a float probe.
  std::string first, last;
  models::ModelOptions probe_options = options;
  probe_options.quant = models::QuantConfig::float_network();
  for (const auto& [k, v] : models::make_model(model, probe_options)->named_parameters()) {
    if (v.dim() == 4 && first.empty()) first = k;
    if (v.dim() == 2) last = k;
  }
  for (const auto& [k, v] : state) {
    if (k == first && v.dim() == 4) options.in_channels = v.shape()[1];
    if (k == last && v.dim() == 2) options.num_classes = v.shape()[0];
  }
}

RunNetwork load_run_network(const std::string& run_dir, const std::string& which) {
  MPQ_CHECK(which == "last" || which == "best" || which == "float",
            "--checkpoint must be last or best, got '", which, "'");
  const bool float_network = which == "float";
  MPQ_CHECK(std::filesystem::is_directory(run_dir), "'", run_dir, "' is not a run folder");
  const std::string config_path = run_dir + "/config.json";
  MPQ_CHECK(std::filesystem::exists(config_path), "'", run_dir,
            "' has no config.json: not a run folder of resnet_cifar or imagenet");
  const train::Json cfg = train::Json::parse(read_file(config_path, "run config"), config_path);
  MPQ_CHECK(cfg.is_object(), config_path, ": expected a JSON object of flag values");
  std::map<std::string, std::string> saved;
  for (const auto& [k, v] : cfg.object()) {
    MPQ_CHECK(v.is_string(), config_path, ": flag '", k, "' is not a string");
    saved[k] = v.string();
  }
  RunNetwork r;
  // The program's own flags tell which one wrote the run.
  r.program = saved.count("fashion-dir")   ? "resnet_cifar"
              : saved.count("train-split") ? "imagenet"
                                           : "";
  MPQ_CHECK(!r.program.empty(), config_path,
            ": neither resnet_cifar's nor imagenet's settings (no fashion-dir or train-split)");

  // The same parser as training: the shared flags declared, the program's
  // own ones (data, limits) taken as they are.
  Args args(r.program, "");
  ExperimentDefaults d;
  d.model = r.program == "imagenet" ? "resnet18" : "resnet20";
  add_experiment_flags(args, d);
  const std::map<std::string, std::string> declared = args.values();
  for (const auto& [k, v] : saved)
    if (!declared.count(k)) args.add(k, v, "");
  args.apply_saved(saved);
  const std::vector<std::string> zoo =
      r.program == "imagenet" ? std::vector<std::string>{"resnet18", "mobilenet_v2"}
                              : std::vector<std::string>{"resnet20", "resnet32", "resnet56"};
  try {
    r.config = parse_experiment_config(r.program, zoo, args);
  } catch (const Error& e) {
    MPQ_FAIL(config_path, ": ", e.what());
  }
  MPQ_CHECK(float_network || r.config.mode != Mode::float_network, "'", run_dir,
            "' is a float run (--mode float): it has no quantized network (its float network: "
            "--float)");
  r.data = saved.count("data") ? saved.at("data") : "";
  if (r.program == "imagenet") r.image_size = args.integer("image-size", 8, 4096);

  r.checkpoint = run_dir + "/" + which + ".safetensors";
  MPQ_CHECK(std::filesystem::exists(r.checkpoint), "'", run_dir, "' has no ", which, ".safetensors",
            which == "best" ? " (written only when an epoch meets every memory target; try "
                              "--checkpoint last)"
                            : " (the run has not finished an epoch of the quantized phase)");
  const train::Checkpoint ck = train::load_checkpoint(r.checkpoint);
  const auto phase = ck.metadata.find("phase");
  const std::string want = float_network ? "float" : "quant";
  MPQ_CHECK(phase != ck.metadata.end() && phase->second == want, r.checkpoint,
            " is not a checkpoint of the ", float_network ? "float" : "quantized",
            " phase (phase '", phase == ck.metadata.end() ? "" : phase->second, "')",
            float_network ? "" : ": the run stopped before quantized training");
  const models::NamedTensors state = train::tensors_under(ck, "model.");

  models::ModelOptions mo;
  mo.in_channels = r.program == "resnet_cifar" && r.data.empty() ? 1 : 3;
  mo.quant = float_network ? models::QuantConfig::float_network() : quant_config(r.config);
  fit_to_state(r.config.model, state, mo);
  r.in_channels = mo.in_channels;
  r.net = models::make_model(r.config.model, mo);
  try {
    r.net->load_state_dict(state);
  } catch (const Error& e) {
    MPQ_FAIL(r.checkpoint, " does not fit the run's ", r.config.model, ": ", e.what());
  }
  r.net->eval();
  // The classifier's output count once loaded.
  for (const auto& [k, v] : r.net->named_parameters())
    if (v.dim() == 2) r.num_classes = v.shape()[0];
  return r;
}

}  // namespace mpq::examples
