// Checkpoints in the safetensors format, readable by Python's `safetensors`
// package and PyTorch users:
//
//   8 bytes   little-endian u64 N, the header size
//   N bytes   JSON: {"__metadata__": {str: str}, "<name>": {"dtype": "F32",
//             "shape": [...], "data_offsets": [begin, end]}, ...}
//   data      the tensors' raw little-endian bytes, offsets relative to here
//
// mpq adds "mpq.crc32" (CRC-32 of the data section) to the metadata so that a
// corrupted file is detected on load, and writes atomically: a temporary file
// in the same folder, fsync, rename, fsync of the folder. A crash mid-write
// leaves the previous checkpoint intact.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/file_io.h"
#include "core/tensor.h"
#include "models/module.h"

namespace mpq::train {

struct Checkpoint {
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::map<std::string, std::string> metadata;
};

void save_checkpoint(const std::string& path, const Checkpoint& ckpt);
// Errors name the file and the problem: missing, truncated, malformed header,
// offsets out of range, fractional or overlapping, unsupported dtype, no CRC
// (every file mpq reads is one it wrote) or a CRC mismatch.
Checkpoint load_checkpoint(const std::string& path);
// The same for a file's bytes in memory; `name` stands for the file in errors.
Checkpoint parse_checkpoint(const std::string& bytes, const std::string& name);

// The entries of a checkpoint under `prefix` ("model." or "optim."), without it.
models::NamedTensors tensors_under(const Checkpoint& ck, const std::string& prefix);

}  // namespace mpq::train
