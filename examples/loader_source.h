// LoaderSource: a train::BatchSource that reads a data::Dataset through
// data::Loader, for the training programs (resnet_cifar, imagenet).
//
// The Trainer gives every epoch a key k (train::mix_seed of the phase and the
// epoch); the source starts the loader's epoch with that key
// (Loader::start_epoch_key), so a training epoch visits the samples in the
// order randperm(N, Generator(k)) and the batches depend only on the run's
// seed, the phase and the epoch. Evaluation sources do not shuffle.
#pragma once

#include <cstdint>
#include <memory>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "train/trainer.h"

namespace mpq::examples {

class LoaderSource : public train::BatchSource {
 public:
  // The source shares ownership of `dataset`; options.seed is unused (the
  // Trainer's epoch keys take its place).
  LoaderSource(std::shared_ptr<const data::Dataset> dataset, data::Transform transform,
               const data::LoaderOptions& options);
  std::int64_t size() const override { return dataset_->size(); }
  std::int64_t batch_size() const override { return loader_.options().batch_size; }
  void start_epoch(std::uint64_t key) override;
  bool next(Tensor& images, Tensor& labels) override;

 private:
  std::shared_ptr<const data::Dataset> dataset_;
  data::Loader loader_;  // declared after what it reads: destroyed first
  data::Batch batch_;
  bool started_ = false;
};

// `count` samples of `base` spread evenly over it (data::EvenSubset) that
// keep `base` alive; base itself when count is 0 or at least its size.
std::shared_ptr<const data::Dataset> even_subset(std::shared_ptr<const data::Dataset> base,
                                                 std::int64_t count);

}  // namespace mpq::examples
