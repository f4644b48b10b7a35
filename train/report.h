// The HTML report of a training run: one self-contained file (inline SVG, no
// scripts, no network) built from RUN_DIR/log.jsonl and RUN_DIR/summary.json:
// loss and accuracy curves, weight and activation memory against their
// targets over training, per-layer learned bitwidths of weights and
// activations as bars (like the paper's figures), and a table of the final
// per-layer quantizer parameters when RUN_DIR/quantizers.json exists.
#pragma once

#include <string>

namespace mpq::train {

// Writes RUN_DIR/report.html and returns its path. Errors name the missing or
// malformed input file.
std::string write_report(const std::string& run_dir);

}  // namespace mpq::train
