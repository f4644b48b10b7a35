// Whole-file reads and crash-safe writes, shared by .npy files, images,
// checkpoints, logs, summaries, reports and plots.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace mpq {

// The file's bytes. `what` names the caller in the error, which also names
// the path ("<what>: cannot open '<path>'").
std::string read_file(const std::string& path, const std::string& what);

// Writes `bytes` to path atomically: a temporary file in the same folder,
// fsync, rename, fsync of the folder. A crash mid-write leaves the previous
// file intact; a failed write (a full disk, a folder that cannot be written)
// throws mpq::Error and removes its temporary file.
void write_file_atomic(const std::string& path, const std::string& bytes);

// Several files, all or none: every temporary file is written and synced
// before the first rename, so a failure to write any of them leaves no
// output (and no temporary file) and every existing file as it was.
void write_files_atomic(const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace mpq
