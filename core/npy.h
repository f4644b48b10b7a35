// NumPy .npy files (format versions 1.0, 2.0 and 3.0), little-endian, C order;
// dtypes float32, float64, int32, int8, uint8. Used for golden test data and
// for exchanging tensors with Python.
#pragma once

#include <string>

#include "core/tensor.h"

namespace mpq {

// Errors name the file and what is wrong (bad magic, truncated header or
// data, unsupported dtype or Fortran order).
Tensor load_npy(const std::string& path);
// Writes atomically (write_file_atomic: temporary file, fsync, rename); a
// failed write throws and removes the temporary file.
void save_npy(const std::string& path, const Tensor& t);
// The bytes save_npy writes (format 1.0), for writing several files at once.
std::string npy_bytes(const Tensor& t);

}  // namespace mpq
