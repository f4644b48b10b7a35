// Dataset: the interface the batching loader (data/loader.h) reads from.
//
// A dataset is an indexed collection of (image, label) samples. get(i) returns
// the i-th sample, decoded on demand, or std::nullopt when that one sample is
// unusable (say an undecodable JPEG in a folder of a million): the dataset has
// already reported it (a warning, a counter) and the loader skips it. Errors
// that make the whole dataset unusable throw mpq::Error instead.
//
// Threading: the loader calls get() from its background threads, from several
// at once when LoaderOptions::workers > 1; get() is const so that a dataset
// can be shared read-only, and must be safe to call concurrently.
// Implementations that keep bookkeeping (skip counters) protect it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace mpq::data {

struct Sample {
  Tensor image;  // [C, H, W] (or [H, W] for single-channel sets such as MNIST); any dtype
  std::int32_t label = 0;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::int64_t size() const = 0;
  // The sample at index i in [0, size()); nullopt: skip it (already reported).
  virtual std::optional<Sample> get(std::int64_t i) const = 0;
};

// A dataset over tensors already in memory, e.g. a CifarSplit or MnistSplit:
// images [N, ...] of any dtype, labels int32 [N]. get(i) is a view of row i.
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor images, Tensor labels);
  std::int64_t size() const override { return images_.shape()[0]; }
  std::optional<Sample> get(std::int64_t i) const override;

 private:
  Tensor images_;
  std::vector<std::int32_t> labels_;
};

// `count` samples of another dataset spread evenly over it: sample i is
// base[floor(i * N / count)], so a class-sorted listing (an image folder)
// keeps every class in proportion. count >= N: the whole dataset. The base
// must outlive the subset.
class EvenSubset : public Dataset {
 public:
  EvenSubset(const Dataset& base, std::int64_t count);
  std::int64_t size() const override { return count_; }
  std::optional<Sample> get(std::int64_t i) const override;
  std::int64_t base_index(std::int64_t i) const;

 private:
  const Dataset& base_;
  std::int64_t count_;
};

}  // namespace mpq::data
