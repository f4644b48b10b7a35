// Whole-file reads and crash-safe writes, shared by checkpoints, logs,
// summaries, reports and plots.
#pragma once

#include <string>

namespace mpq::train {

// The file's bytes. `what` names the caller in the error, which also names
// the path ("<what>: cannot open '<path>'").
std::string read_file(const std::string& path, const std::string& what);

// Writes `bytes` to path atomically: a temporary file in the same folder,
// fsync, rename, fsync of the folder. A crash mid-write leaves the previous
// file intact.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace mpq::train
