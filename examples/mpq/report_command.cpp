// mpq report RUN_DIR: (re)builds RUN_DIR/report.html from a run's logs.
#include <cstdio>

#include "core/error.h"
#include "examples/args.h"
#include "examples/mpq/commands.h"
#include "train/report.h"

namespace mpq::cli {

int report_command(int argc, char** argv) {
  examples::Args args(
      "mpq report",
      "Writes RUN_DIR/report.html, a self-contained HTML report (inline SVG, no network)\n"
      "of a resnet_cifar run: loss and accuracy curves, memory against targets,\n"
      "per-layer learned bitwidths and the final quantizer parameters.\n\n"
      "Example:\n  mpq report runs/20261125-190000");
  args.add(
      "run", "",
      "the run folder (with log.jsonl and summary.json); may also be given alone: mpq report RUN");
  // `mpq report RUN` is accepted as a shorthand for `mpq report --run RUN`.
  if (argc == 2 && argv[1][0] != '-') {
    std::printf("%s\n", train::write_report(argv[1]).c_str());
    return 0;
  }
  if (!args.parse(argc, argv)) return 0;
  MPQ_CHECK(args.given("run"), "mpq report: give the run folder: mpq report RUN (or --run RUN)");
  std::printf("%s\n", train::write_report(args.str("run")).c_str());
  return 0;
}

}  // namespace mpq::cli
