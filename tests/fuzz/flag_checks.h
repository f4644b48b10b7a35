// After the flags parse, the fuzzed values go through run_experiment's own
// checks (examples::parse_experiment_config), which must return or throw
// mpq::Error.
#pragma once

#include "core/error.h"
#include "examples/args.h"
#include "examples/experiment_config.h"

namespace mpq::fuzz {

inline void check_flags(const examples::Args& args) {
  try {
    examples::parse_experiment_config("fuzz", {"resnet20", "resnet32", "resnet56"}, args);
  } catch (const Error&) {
  }
}

}  // namespace mpq::fuzz
