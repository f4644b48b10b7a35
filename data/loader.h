// Loader: batches of a Dataset, shuffled with a seed, prepared ahead on
// background threads.
//
//   data::Loader loader(dataset, data::cifar_train_transform(), {.batch_size = 128, .seed = 1});
//   for (int epoch = 0; epoch < epochs; ++epoch) {
//     loader.start_epoch(epoch);
//     data::Batch b;
//     while (loader.next(b)) train_step(b.images, b.labels);  // [B, C, H, W] f32, [B] i32
//   }
//
// Order and randomness. An epoch's randomness comes from one 64-bit key:
// start_epoch(e) uses key = mix(seed, e); start_epoch_key(k) uses k itself
// (for callers that derive their own per-epoch keys, as train::Trainer does).
// With shuffle, the epoch's order is randperm(N, Generator(key)); without,
// 0..N-1. How the transforms draw is LoaderOptions::randomness:
// - per_sample (the default): sample i is transformed with its own
//   Generator(mix(key, i)), so any number of workers gives the same batches;
// - epoch_stream: the transforms continue the order's Generator(key), sample
//   after sample in epoch order (workers must be 1). This is the stream of a
//   single-threaded pipeline that shuffles and augments from one generator.
// Either way the batches depend only on (key, options), never on timing, and
// every sample is seen exactly once per epoch. The last batch is partial
// unless drop_last. A sample the dataset skips (get() returns nullopt) is
// left out; the batch is filled from the next samples of the order.
//
// Threading contract.
// - start_epoch() starts one worker thread. It assembles the epoch's batches
//   in order and puts them in a queue of at most `prefetch` batches; it waits
//   while the queue is full. With workers == 1 it also calls dataset.get()
//   and the transform itself, one sample at a time; with workers = W > 1, W
//   more threads call them for different samples at once (up to 4W samples
//   ahead of the batch being assembled), and the worker takes their results
//   in epoch order, so the batches are the same for any W. get() and the
//   transform therefore run concurrently with the consumer's own code, and
//   with W > 1 with themselves: they must be safe to call from several
//   threads and must not touch state the consumer uses without
//   synchronisation. Each loader thread sets its own OpenMP thread count to
//   1, so tensor ops inside a transform do not compete with training.
// - next(), start_epoch(), stop() and the destructor are called from one
//   consumer thread; the Loader is not safe to use from two threads at once.
// - stop(), start_epoch() and the destructor end a running epoch: the worker
//   threads finish the samples in progress (one get() + transform each at
//   most), the queued batches are dropped and every thread is joined. No thread outlives the
//   Loader; the dataset and transform must outlive it.
// - An exception from get(), the transform or batching ends the epoch. The
//   batches finished before it are still delivered, then next() rethrows it
//   (an mpq::Error gains the dataset index of the sample); later calls of
//   next() return false.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "data/dataset.h"
#include "data/transforms.h"

namespace mpq::data {

struct Batch {
  Tensor images;                      // float32 [B, C, H, W]
  Tensor labels;                      // int32 [B]
  std::vector<std::int64_t> indices;  // dataset index of each row
};

// How the transforms draw their random numbers (see "Order and randomness").
enum class Randomness { per_sample, epoch_stream };

// One of `count` processes that share every batch (data-parallel training).
// The epoch's order is cut into windows of batch_size positions, as one
// process would batch it; shard `index` takes positions [w index / count,
// w (index + 1) / count) of each window of w positions, so the shards' batches
// together are the one process's batches (when no sample is skipped), every
// shard gets one batch per window, and that batch is empty (images undefined,
// labels [0]) when its slice is, e.g. a last window smaller than count. A
// skipped sample is left out of its shard's batch (no refill: the shards do
// not know of each other's skips). With per_sample randomness a shard reads
// only its own samples; with epoch_stream it reads and transforms every
// sample to follow the one stream, and keeps its own.
struct Shard {
  int index = 0;
  int count = 1;
};

struct LoaderOptions {
  std::int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = false;  // drop a final batch smaller than batch_size
  std::uint64_t seed = 0;
  int prefetch = 2;  // batches prepared ahead of the consumer, >= 1
  // Threads that read and transform samples, >= 1 (see the threading
  // contract); the batches do not depend on it.
  int workers = 1;
  Randomness randomness = Randomness::per_sample;  // epoch_stream needs workers == 1
  // Images in page-locked memory, for asynchronous copies to a GPU (ordinary
  // memory where pinning is unavailable).
  bool pin_memory = false;
  Shard shard = {};  // this process's part of every batch (see Shard)
};

class Loader {
 public:
  // transform: image as the dataset returns it -> [C, H, W] (a 2-D [H, W]
  // result gets a channel axis; the result is converted to float32). Without
  // one, images are only converted to float32. All images of a batch must end
  // up with one shape.
  Loader(const Dataset& dataset, Transform transform, LoaderOptions options = {});
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Starts preparing the batches of `epoch` (stopping a running epoch first).
  void start_epoch(std::int64_t epoch);
  // The same for the epoch whose key is `key` (not mixed with the seed).
  void start_epoch_key(std::uint64_t key);
  // Moves the next batch of the current epoch into `out`; false when the epoch
  // has no more. Rethrows the worker's exception (see the contract above).
  bool next(Batch& out);
  // Ends the current epoch now (a no-op when none runs).
  void stop();

  // Batches per epoch when no sample is skipped (a shard's, empty ones included).
  std::int64_t num_batches() const;
  const LoaderOptions& options() const { return options_; }

  // The dataset indices of an epoch, in the order the loader visits them.
  static std::vector<std::int64_t> epoch_order(std::int64_t n, std::uint64_t seed,
                                               std::int64_t epoch, bool shuffle);
  // The order of the epoch with key `key`; with shuffle it draws from `gen`
  // (Generator(key)), which the epoch_stream transforms then continue.
  static std::vector<std::int64_t> key_order(std::int64_t n, Generator& gen, bool shuffle);

 private:
  struct Prepared;
  class SamplePool;
  void run(std::vector<std::int64_t> order, std::uint64_t epoch_key, Generator stream);
  void produce(const std::vector<std::int64_t>& order, std::uint64_t epoch_key, Generator& stream,
               std::int64_t& current);
  void produce_shard(const std::vector<std::int64_t>& order, std::uint64_t epoch_key,
                     Generator& stream, std::int64_t& current);
  // Queues a batch for the consumer; false when the loader stops meanwhile.
  bool push(Batch b);
  // Sample `index` read and transformed ([C, H, W] float32); an exception is
  // kept in the result, so that it surfaces in epoch order. The transform
  // draws from `stream` when given (epoch_stream), else from the sample's own
  // generator.
  Prepared prepare(std::int64_t index, std::uint64_t epoch_key, Generator* stream = nullptr) const;
  // The samples of the batch being assembled.
  struct Rows {
    std::vector<Tensor> images;
    std::vector<std::int32_t> labels;
    std::vector<std::int64_t> indices;
    // Adds dataset sample `index` (all of a batch's images must have one shape).
    void add(Prepared&& sample, std::int64_t index);
  };
  Batch collate(Rows& rows) const;

  const Dataset& dataset_;
  Transform transform_;
  LoaderOptions options_;
  bool started_ = false;

  std::thread worker_;
  std::mutex mutex_;                  // guards queue_, finished_, error_
  std::condition_variable can_pop_;   // a batch is queued or the worker finished
  std::condition_variable can_push_;  // the queue has room or stop_ is set
  std::deque<Batch> queue_;
  bool finished_ = true;
  std::exception_ptr error_;
  std::atomic<bool> stop_{false};
};

}  // namespace mpq::data
