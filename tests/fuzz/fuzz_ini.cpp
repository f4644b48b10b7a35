// INI experiment presets (examples/args.h, Args::load_ini) with the flags of
// the experiment programs; then every flag's value through its checks, as
// run_experiment would read them.
#include "core/error.h"
#include "examples/args.h"
#include "examples/experiment_config.h"
#include "flag_checks.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mpq;
  examples::Args args("fuzz", "");
  examples::add_experiment_flags(args, examples::ExperimentDefaults{});
  try {
    args.load_ini(fuzz::as_file(data, size, ".ini"), "e", {"run-dir", "resume", "stop-after"});
  } catch (const Error&) {
    return 0;
  }
  fuzz::check_flags(args);
  return 0;
}
