// mpq forward: a zoo model's float network from a checkpoint, evaluated on a
// .npy input: what scripts/torchvision_weights.py compares with torchvision.
#include <cstdio>
#include <string>

#include "core/autograd.h"
#include "core/error.h"
#include "core/npy.h"
#include "examples/args.h"
#include "examples/mpq/commands.h"
#include "examples/run_network.h"
#include "models/zoo.h"
#include "train/checkpoint.h"

namespace mpq::cli {

int forward_command(int argc, char** argv) {
  examples::Args args(
      "mpq forward",
      "Loads a float checkpoint (a run's float.safetensors, or one written by\n"
      "scripts/torchvision_weights.py) into a zoo model, runs it in eval mode on a\n"
      "float32 .npy input [N, C, H, W] and writes the logits [N, classes] as .npy.\n"
      "The input channels and the classes come from the checkpoint's first and last\n"
      "weights.\n\n"
      "Example:\n"
      "  mpq forward --model resnet18 --checkpoint r18.safetensors --input x.npy --out y.npy");
  args.add("model", "", "resnet20, resnet32, resnet56, resnet18 or mobilenet_v2 (required)");
  args.add("checkpoint", "", "a float checkpoint whose tensors are model.<name> (required)");
  args.add("input", "", "float32 .npy [N, C, H, W] (required)");
  args.add("out", "", "where to write the logits, .npy (required)");
  if (!args.parse(argc, argv)) return 0;
  for (const char* f : {"model", "checkpoint", "input", "out"})
    MPQ_CHECK(args.given(f), "mpq forward: --", f, " is required");
  const std::string name = args.str("model");
  const train::Checkpoint ck = train::load_checkpoint(args.str("checkpoint"));
  const auto phase = ck.metadata.find("phase");
  MPQ_CHECK(phase == ck.metadata.end() || phase->second == "float",
            "mpq forward: ", args.str("checkpoint"), " is a checkpoint of the '", phase->second,
            "' phase; it takes a float network");
  const models::NamedTensors state = train::tensors_under(ck, "model.");
  MPQ_CHECK(!state.empty(), "mpq forward: ", args.str("checkpoint"), " has no model.* tensors");
  models::ModelOptions o;
  examples::fit_to_state(name, state, o);
  auto net = models::make_model(name, o);
  try {
    net->load_state_dict(state);
  } catch (const Error& e) {
    MPQ_FAIL("mpq forward: ", args.str("checkpoint"), " does not fit ", name, ": ", e.what());
  }
  net->eval();
  const Tensor x = load_npy(args.str("input"));
  MPQ_CHECK(x.dtype() == DType::f32 && x.dim() == 4, "mpq forward: ", args.str("input"),
            " is not a float32 [N, C, H, W] array");
  NoGradGuard ng;
  const Tensor y = net->forward(x);
  save_npy(args.str("out"), y.contiguous());
  std::printf("%s: %s -> %s\n", name.c_str(), shape_str(x.shape()).c_str(),
              shape_str(y.shape()).c_str());
  return 0;
}

}  // namespace mpq::cli
