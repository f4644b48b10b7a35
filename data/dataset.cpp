#include "data/dataset.h"

#include <algorithm>

namespace mpq::data {

TensorDataset::TensorDataset(Tensor images, Tensor labels) : images_(std::move(images)) {
  MPQ_CHECK(images_.dim() >= 1, "TensorDataset: images must be [N, ...], got a 0-d tensor");
  MPQ_CHECK(labels.dim() == 1 && labels.dtype() == DType::i32,
            "TensorDataset: labels must be int32 [N], got ", dtype_name(labels.dtype()), " ",
            shape_str(labels.shape()));
  MPQ_CHECK(labels.shape()[0] == images_.shape()[0], "TensorDataset: ", images_.shape()[0],
            " images but ", labels.shape()[0], " labels");
  // Contiguous once here, so that every get() is a cheap view.
  images_ = images_.detach().contiguous();
  labels_ = labels.to_vector<std::int32_t>();
}

std::optional<Sample> TensorDataset::get(std::int64_t i) const {
  MPQ_CHECK(i >= 0 && i < size(), "TensorDataset::get: index ", i, " outside [0, ", size(), ")");
  return Sample{images_.narrow(0, i, 1).squeeze(0), labels_[static_cast<std::size_t>(i)]};
}

EvenSubset::EvenSubset(const Dataset& base, std::int64_t count)
    : base_(base), count_(std::min(count, base.size())) {
  MPQ_CHECK(count > 0, "EvenSubset: the subset needs at least one sample, got ", count);
  MPQ_CHECK(base.size() < (std::int64_t{1} << 31), "EvenSubset: ", base.size(),
            " samples is beyond its 2^31 limit");
}

std::int64_t EvenSubset::base_index(std::int64_t i) const {
  MPQ_CHECK(i >= 0 && i < count_, "EvenSubset: index ", i, " outside [0, ", count_, ")");
  // i * N < count * N <= N^2: exact in int64 for N < 2^31 (checked at construction).
  return i * base_.size() / count_;
}

std::optional<Sample> EvenSubset::get(std::int64_t i) const {
  return base_.get(base_index(i));
}

}  // namespace mpq::data
