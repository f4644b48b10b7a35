// The command-line flag parser (examples/args.h) with the experiment
// programs' flags: the input is argv, split at NUL bytes. Parsed flags then
// go through their checks, as run_experiment reads them.
#include <vector>

#include "core/error.h"
#include "examples/args.h"
#include "examples/experiment_config.h"
#include "flag_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mpq;
  std::vector<std::string> words{"fuzz"};
  std::string word;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      words.push_back(word);
      word.clear();
    } else {
      word += static_cast<char>(data[i]);
    }
  }
  words.push_back(word);
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  examples::Args args("fuzz", "");
  examples::add_experiment_flags(args, examples::ExperimentDefaults{});
  try {
    // --help prints the help and returns false; stdout is the fuzzer's.
    if (!args.parse(static_cast<int>(words.size()), argv.data())) return 0;
  } catch (const Error&) {
    return 0;
  }
  fuzz::check_flags(args);
  return 0;
}
