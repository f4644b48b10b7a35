// IDX files (the MNIST / Fashion-MNIST format), gzipped or plain.
//
// Layout: magic = 0x00 0x00 <type> <ndim>, then ndim big-endian uint32 sizes,
// then the data in row-major order. mpq reads type 0x08 (unsigned byte), the
// one both datasets use.
#pragma once

#include <string>

#include "core/tensor.h"

namespace mpq::data {

// Reads an IDX file into a uint8 tensor of its shape. Errors name the file
// and the problem: missing, not IDX (bad magic), unsupported type, or
// truncated (expected vs read bytes).
Tensor read_idx(const std::string& path);

struct MnistSplit {
  Tensor images;  // uint8 [N, 28, 28]
  Tensor labels;  // int32 [N], in [0, 10)
};

// Loads "<dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]" (each file
// gzipped or plain) and checks the dimensions: images [N, 28, 28] with N > 0,
// labels [N] (same N), every label in [0, 10). Errors name the file.
MnistSplit load_mnist(const std::string& dir, bool train);

}  // namespace mpq::data
