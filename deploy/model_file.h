// The exported model file (.mpqm): an IntegerModel with every weight tensor
// bit-packed at its learned bitwidth (docs/integer.md, "The model file").
//
//   8 bytes  "MPQMODEL"
//   4 bytes  little-endian u32 format version (1)
//   4 bytes  little-endian u32 H, the header size
//   H bytes  compact JSON: the model, its input, every tensor's grid and the
//            graph (see model_file.cpp for the fields)
//   data     per conv, in graph order: the packed weight codes
//            (ceil(count * bits / 8) bytes), then float32 scale[C] and
//            shift[C]; then the classifier's packed weight, packed bias or
//            float32 bias. Nothing else: the reader accounts for every byte.
//   4 bytes  little-endian CRC-32 of everything before it
//
// Written atomically (core/file_io.h). The reader refuses, naming the file
// and the problem, a file that is short, foreign (magic), of another
// version, corrupt (CRC), whose header does not parse or describes a graph
// that does not check (IntegerModel::check), or whose data section is not
// exactly what the header implies; it allocates nothing before the sizes
// are checked against the file.
#pragma once

#include <cstdint>
#include <string>

#include "deploy/integer_model.h"

namespace mpq::deploy {

inline constexpr std::uint32_t kModelFileVersion = 1;

// Where the bytes of a file go, for `mpq export`'s breakdown.
struct ModelFileSizes {
  std::int64_t packed_weights = 0;  // packed codes of every weight and bias
  std::int64_t per_channel = 0;     // float32 batch-norm scales and shifts, float biases
  std::int64_t header = 0;          // magic, version, sizes, JSON, CRC
  std::int64_t total() const { return packed_weights + per_channel + header; }
};

// The file's bytes (checks the model first).
std::string serialize_model(const IntegerModel& model, ModelFileSizes* sizes = nullptr);
void save_model_file(const std::string& path, const IntegerModel& model,
                     ModelFileSizes* sizes = nullptr);

// `name` stands for the file in errors.
IntegerModel parse_model_file(const std::string& bytes, const std::string& name,
                              ModelFileSizes* sizes = nullptr);
IntegerModel load_model_file(const std::string& path, ModelFileSizes* sizes = nullptr);

}  // namespace mpq::deploy
