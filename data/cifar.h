// CIFAR-10 and CIFAR-100, in the "binary version" of
// https://www.cs.toronto.edu/~kriz/cifar.html.
//
// CIFAR-10 (folder cifar-10-batches-bin): data_batch_1.bin .. data_batch_5.bin
// (training, 5 x 10000 images) and test_batch.bin (10000). Each file is a
// sequence of 3073-byte records:
//   1 byte  label in [0, 10)
//   3072    pixels: the red plane (32 x 32, row-major), then green, then blue
// CIFAR-100 (folder cifar-100-binary): train.bin (50000) and test.bin (10000),
// 3074-byte records:
//   1 byte  coarse label (superclass) in [0, 20)
//   1 byte  fine label in [0, 100)
//   3072    pixels, as above
//
// The planar layout is already [C, H, W], so an image is copied as it is.
// Errors (mpq::Error) name the file: a missing folder or file, a size that is
// not a whole number of records, a label outside the class range (with the
// record index).
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace mpq::data {

inline constexpr std::int64_t kCifarImageBytes = 3 * 32 * 32;  // 3072

struct CifarSplit {
  Tensor images;         // uint8 [N, 3, 32, 32], channels R, G, B
  Tensor labels;         // int32 [N]: CIFAR-10 class, or CIFAR-100 fine label
  Tensor coarse_labels;  // int32 [N]: CIFAR-100 superclass; undefined for CIFAR-10
};

// `dir` is either the extracted folder itself (".../cifar-10-batches-bin") or
// the folder that contains it. train: the five data batches in order, else
// test_batch.bin.
CifarSplit load_cifar10(const std::string& dir, bool train);

// `dir` is ".../cifar-100-binary" or the folder that contains it. train:
// train.bin, else test.bin.
CifarSplit load_cifar100(const std::string& dir, bool train);

// One file of records (any number of them).
CifarSplit read_cifar10_file(const std::string& path);
CifarSplit read_cifar100_file(const std::string& path);

}  // namespace mpq::data
