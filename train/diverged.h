// The error a training run stops with when it diverges: a non-finite loss or
// gradient, or a quantizer whose derived range left float32. Programs exit
// with kDivergedExitCode for it (examples/args.h, run_main), so that scripts
// tell a diverged run (a result: "diverges", as in the paper's Table 1) from
// bad input or a crash (exit 2 or 1).
#pragma once

#include "core/error.h"

namespace mpq::train {

class Diverged : public Error {
 public:
  using Error::Error;
};

constexpr int kDivergedExitCode = 3;

}  // namespace mpq::train
