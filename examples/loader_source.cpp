#include "examples/loader_source.h"

#include <utility>

namespace mpq::examples {

LoaderSource::LoaderSource(std::shared_ptr<const data::Dataset> dataset, data::Transform transform,
                           const data::LoaderOptions& options)
    : dataset_(std::move(dataset)), loader_(*dataset_, std::move(transform), options) {}

void LoaderSource::start_epoch(std::uint64_t key) {
  loader_.start_epoch_key(key);
  started_ = true;
}

bool LoaderSource::next(Tensor& images, Tensor& labels) {
  MPQ_CHECK(started_, "LoaderSource: next() before start_epoch()");
  if (!loader_.next(batch_)) return false;
  images = batch_.images;
  labels = batch_.labels;
  return true;
}

namespace {
// An EvenSubset that owns a reference to the dataset it reads.
struct OwningSubset : data::EvenSubset {
  OwningSubset(std::shared_ptr<const data::Dataset> base, std::int64_t count)
      : data::EvenSubset(*base, count), keep(std::move(base)) {}
  std::shared_ptr<const data::Dataset> keep;
};
}  // namespace

std::shared_ptr<const data::Dataset> even_subset(std::shared_ptr<const data::Dataset> base,
                                                 std::int64_t count) {
  if (count <= 0 || count >= base->size()) return base;
  return std::make_shared<OwningSubset>(std::move(base), count);
}

}  // namespace mpq::examples
