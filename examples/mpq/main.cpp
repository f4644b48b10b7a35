// `mpq`: the command-line tool. `mpq <command> --help` explains each command.
#include <cstdio>
#include <cstring>
#include <string>

#include "examples/args.h"
#include "examples/mpq/commands.h"

namespace {
const char* kUsage =
    "usage: mpq <command> [flags]\n\n"
    "commands:\n"
    "  quant   apply one quantizer (U1-U3, P1-P3) to a .npy tensor and show its value,\n"
    "          input gradient, raw-parameter gradients and inferred bitwidth\n"
    "  summary per-layer quantizers and memory (weights, activations) of a zoo model\n"
    "  report  write the HTML report of a training run\n"
    "  bench-step  time the steady-state training or inference step of a zoo model\n"
    "  export  write a run's quantized network as an integer model file (packed b-bit weights)\n"
    "  infer   run an integer model file: test accuracy, --compare with fake-quant, --bench\n"
    "  forward a zoo model's float checkpoint on a .npy input (logits as .npy)\n\n"
    "Run 'mpq <command> --help' for the flags of a command.\n";
}

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  if (command == "quant")
    return mpq::examples::run_main(mpq::cli::quant_command, argc - 1, argv + 1);
  if (command == "report")
    return mpq::examples::run_main(mpq::cli::report_command, argc - 1, argv + 1);
  if (command == "bench-step")
    return mpq::examples::run_main(mpq::cli::bench_step_command, argc - 1, argv + 1);
  if (command == "export")
    return mpq::examples::run_main(mpq::cli::export_command, argc - 1, argv + 1);
  if (command == "forward")
    return mpq::examples::run_main(mpq::cli::forward_command, argc - 1, argv + 1);
  if (command == "infer")
    return mpq::examples::run_main(mpq::cli::infer_command, argc - 1, argv + 1);
  if (command == "summary")
    return mpq::examples::run_main(mpq::cli::summary_command, argc - 1, argv + 1);
  std::fprintf(stderr, "error: unknown command '%s'\n\n%s", command.c_str(), kUsage);
  return 2;
}
