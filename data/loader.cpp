#include "data/loader.h"

#include "core/tensor.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "core/autograd.h"
#include "core/parallel.h"
#include "core/rng.h"

namespace mpq::data {

namespace {

// splitmix64's finaliser: a bijection on 64 bits that spreads every input bit
// over the output, so nearby seeds and epochs give unrelated streams.
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// mix(a, b): a seed for stream b under key a.
std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  return splitmix64(a ^ splitmix64(b));
}

}  // namespace

Loader::Loader(const Dataset& dataset, Transform transform, LoaderOptions options)
    : dataset_(dataset), transform_(std::move(transform)), options_(options) {
  MPQ_CHECK(options_.batch_size >= 1, "Loader: batch_size ", options_.batch_size,
            " must be at least 1");
  MPQ_CHECK(options_.prefetch >= 1, "Loader: prefetch ", options_.prefetch, " must be at least 1");
  MPQ_CHECK(options_.workers >= 1 && options_.workers <= 256, "Loader: workers ", options_.workers,
            " must be in [1, 256]");
  // One stream drawn sample after sample cannot be shared by threads that
  // transform different samples at once.
  MPQ_CHECK(options_.randomness == Randomness::per_sample || options_.workers == 1,
            "Loader: randomness epoch_stream needs workers = 1, got ", options_.workers);
  MPQ_CHECK(options_.shard.count >= 1 && options_.shard.index >= 0 &&
                options_.shard.index < options_.shard.count,
            "Loader: shard ", options_.shard.index, " of ", options_.shard.count,
            " (expected 0 <= index < count)");
}

// One sample as the batching needs it: skipped (the dataset had none), an
// image with its label, or the exception that reading or transforming threw.
struct Loader::Prepared {
  bool skipped = false;
  Tensor image;  // float32 [C, H, W]
  std::int32_t label = 0;
  std::exception_ptr error;
};

Loader::Prepared Loader::prepare(std::int64_t index, std::uint64_t epoch_key,
                                 Generator* stream) const {
  Prepared p;
  try {
    std::optional<Sample> s = dataset_.get(index);
    if (!s) {
      p.skipped = true;  // reported by the dataset
      return p;
    }
    Generator own(stream ? 0 : mix(epoch_key, static_cast<std::uint64_t>(index)));
    Tensor x = transform_ ? transform_(s->image, stream ? *stream : own) : s->image;
    MPQ_CHECK(x.defined(), "the transform returned an undefined tensor");
    if (x.dim() == 2) x = x.unsqueeze(0);
    MPQ_CHECK(x.dim() == 3, "expected an image [C, H, W] after the transform, got ",
              shape_str(x.shape()));
    p.image = to_float32(x);
    p.label = s->label;
  } catch (...) {
    p.error = std::current_exception();
  }
  return p;
}

// The W threads of an epoch with workers = W > 1. They claim positions of the
// epoch order one at a time, at most `window` ahead of the next position the
// assembling worker takes, and leave each result in a ring slot; take(pos)
// waits for position pos. Positions are taken strictly in order, so the ring
// slot of pos is free again once pos - window has been taken.
class Loader::SamplePool {
 public:
  SamplePool(const Loader& loader, const std::vector<std::int64_t>& order, std::uint64_t key)
      : loader_(loader),
        order_(order),
        key_(key),
        window_(4 * static_cast<std::int64_t>(loader.options_.workers)),
        ring_(static_cast<std::size_t>(window_)) {}
  SamplePool(const SamplePool&) = delete;
  SamplePool& operator=(const SamplePool&) = delete;
  // Stops claiming, lets each thread finish its sample and joins them all.
  ~SamplePool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    room_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  // Separate from the constructor: if creating a thread throws, the
  // destructor still joins the ones already running.
  void start() {
    for (int k = 0; k < loader_.options_.workers; ++k) threads_.emplace_back([this] { work(); });
  }
  Prepared take(std::int64_t pos) {
    Slot& slot = ring_[static_cast<std::size_t>(pos % window_)];
    std::unique_lock<std::mutex> lock(mutex_);
    // The threads stop claiming once the loader stops (so that stop() waits
    // for the samples in progress only); a position none of them claimed is
    // then read here, and the worker sees the stop right after.
    ready_.wait(lock, [&] { return slot.pos == pos || (claimed_ <= pos && loader_.stop_); });
    Prepared p;
    if (slot.pos == pos) {
      p = std::move(slot.sample);
      slot.pos = -1;
    } else {
      claimed_ = pos + 1;
      lock.unlock();
      p = loader_.prepare(order_[static_cast<std::size_t>(pos)], key_);
      lock.lock();
    }
    taken_ = pos + 1;
    lock.unlock();
    room_.notify_one();  // one slot freed: one position more may be claimed
    return p;
  }

 private:
  struct Slot {
    std::int64_t pos = -1;  // the position whose result the slot holds, -1: none
    Prepared sample;
  };
  void work() {
    NoGradGuard no_grad;
    set_num_threads(1);
    const auto n = static_cast<std::int64_t>(order_.size());
    for (;;) {
      std::int64_t pos = 0;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        room_.wait(lock, [&] { return stop_ || claimed_ >= n || claimed_ < taken_ + window_; });
        if (loader_.stop_) {
          lock.unlock();
          ready_.notify_one();  // the worker may wait for a position no thread will claim
          return;
        }
        if (stop_ || claimed_ >= n) return;
        pos = claimed_++;
      }
      Prepared p = loader_.prepare(order_[static_cast<std::size_t>(pos)], key_);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        Slot& slot = ring_[static_cast<std::size_t>(pos % window_)];
        slot.sample = std::move(p);
        slot.pos = pos;
      }
      ready_.notify_one();  // the assembling worker is the only one waiting
    }
  }

  const Loader& loader_;
  const std::vector<std::int64_t>& order_;
  const std::uint64_t key_;
  const std::int64_t window_;
  std::vector<Slot> ring_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;                      // guards ring_, claimed_, taken_, stop_
  std::condition_variable ready_, room_;  // a slot was filled; a slot was freed
  std::int64_t claimed_ = 0, taken_ = 0;
  bool stop_ = false;
};

Loader::~Loader() {
  stop();
}

std::int64_t Loader::num_batches() const {
  const std::int64_t n = dataset_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<std::int64_t> Loader::epoch_order(std::int64_t n, std::uint64_t seed,
                                              std::int64_t epoch, bool shuffle) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  if (!shuffle) {
    for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    return order;
  }
  Generator gen(mix(seed, static_cast<std::uint64_t>(epoch)));
  return key_order(n, gen, shuffle);
}

std::vector<std::int64_t> Loader::key_order(std::int64_t n, Generator& gen, bool shuffle) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  if (!shuffle || n == 0) {
    for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    return order;
  }
  const std::vector<std::int32_t> perm = randperm(n, gen).to_vector<std::int32_t>();
  for (std::size_t i = 0; i < perm.size(); ++i) order[i] = perm[i];
  return order;
}

void Loader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  can_push_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.clear();
  error_ = nullptr;
  finished_ = true;
  stop_ = false;
}

void Loader::start_epoch(std::int64_t epoch) {
  start_epoch_key(mix(options_.seed, static_cast<std::uint64_t>(epoch)));
}

void Loader::start_epoch_key(std::uint64_t key) {
  stop();
  const std::int64_t n = dataset_.size();
  MPQ_CHECK(n <= (std::int64_t(1) << 31) - 1, "Loader: ", n,
            " samples exceed the int32 range of randperm");
  Generator stream(key);
  std::vector<std::int64_t> order = key_order(n, stream, options_.shuffle);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = false;
  }
  started_ = true;
  try {
    worker_ = std::thread(&Loader::run, this, std::move(order), key, stream);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;  // no worker: next() must not wait for one
    throw;
  }
}

bool Loader::next(Batch& out) {
  MPQ_CHECK(started_, "Loader::next: no epoch started (call start_epoch(epoch) first)");
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    can_pop_.wait(lock, [&] { return !queue_.empty() || finished_; });
    if (!queue_.empty()) {
      out = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      can_push_.notify_one();
      return true;
    }
    error = std::exchange(error_, nullptr);
  }
  // The worker has finished: join it now rather than at the next epoch.
  if (worker_.joinable()) worker_.join();
  if (error) std::rethrow_exception(error);
  return false;
}

void Loader::run(std::vector<std::int64_t> order, std::uint64_t epoch_key, Generator stream) {
  // Per-thread settings: no autograd recording, and one OpenMP thread for the
  // tensor ops of transforms so that they leave the cores to training.
  NoGradGuard no_grad;
  set_num_threads(1);
  std::int64_t current = -1;  // dataset index being prepared, for error messages
  std::exception_ptr error;
  try {
    if (options_.shard.count > 1)
      produce_shard(order, epoch_key, stream, current);
    else
      produce(order, epoch_key, stream, current);
  } catch (const Error& e) {
    error = current >= 0 ? std::make_exception_ptr(
                               Error(detail::concat("Loader: sample ", current, ": ", e.what())))
                         : std::current_exception();
  } catch (...) {
    error = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = error;
    finished_ = true;
  }
  can_pop_.notify_one();
}

void Loader::produce(const std::vector<std::int64_t>& order, std::uint64_t epoch_key,
                     Generator& stream, std::int64_t& current) {
  Generator* shared = options_.randomness == Randomness::epoch_stream ? &stream : nullptr;
  const auto batch = static_cast<std::size_t>(options_.batch_size);
  // Samples come from the pool's threads with workers > 1, else from this one.
  std::optional<SamplePool> pool;
  if (options_.workers > 1) {
    pool.emplace(*this, order, epoch_key);
    pool->start();
  }
  std::size_t pos = 0;
  while (pos < order.size()) {
    Rows rows;
    while (rows.images.size() < batch && pos < order.size()) {
      if (stop_) return;
      const auto at = static_cast<std::int64_t>(pos);
      current = order[pos++];
      Prepared s = pool ? pool->take(at) : prepare(current, epoch_key, shared);
      if (s.error) std::rethrow_exception(s.error);
      if (s.skipped) continue;
      rows.add(std::move(s), current);
    }
    current = -1;
    if (rows.images.empty() || (options_.drop_last && rows.images.size() < batch)) return;
    if (!push(collate(rows))) return;
  }
}

bool Loader::push(Batch b) {
  std::unique_lock<std::mutex> lock(mutex_);
  can_push_.wait(
      lock, [&] { return stop_ || queue_.size() < static_cast<std::size_t>(options_.prefetch); });
  if (stop_) return false;
  queue_.push_back(std::move(b));
  lock.unlock();
  can_pop_.notify_one();
  return true;
}

void Loader::produce_shard(const std::vector<std::int64_t>& order, std::uint64_t epoch_key,
                           Generator& stream, std::int64_t& current) {
  Generator* shared = options_.randomness == Randomness::epoch_stream ? &stream : nullptr;
  const std::int64_t n = static_cast<std::int64_t>(order.size()), B = options_.batch_size;
  const std::int64_t count = options_.shard.count, index = options_.shard.index;
  // Each window's slice [lo, hi) of positions, and the dataset indices this
  // shard reads, in order (the pool's order with workers > 1).
  std::vector<std::pair<std::int64_t, std::int64_t>> slices;
  std::vector<std::int64_t> mine;
  for (std::int64_t start = 0; start < n; start += B) {
    const std::int64_t w = std::min(B, n - start);
    if (options_.drop_last && w < B) break;
    const std::int64_t lo = start + w * index / count, hi = start + w * (index + 1) / count;
    slices.emplace_back(lo, hi);
    for (std::int64_t p = lo; p < hi; ++p) mine.push_back(order[static_cast<std::size_t>(p)]);
  }
  std::optional<SamplePool> pool;
  if (options_.workers > 1) {
    pool.emplace(*this, mine, epoch_key);
    pool->start();
  }
  std::int64_t taken = 0;  // samples of `mine` taken so far
  std::int64_t next = 0;   // epoch_stream: the first position not yet drawn
  for (const auto& [lo, hi] : slices) {
    Rows rows;
    // epoch_stream: the other shards' samples before this slice draw from
    // the stream too (and are then dropped).
    for (; shared && next < lo; ++next) {
      if (stop_) return;
      current = order[static_cast<std::size_t>(next)];
      (void)prepare(current, epoch_key, shared);
    }
    for (std::int64_t p = lo; p < hi; ++p) {
      if (stop_) return;
      current = order[static_cast<std::size_t>(p)];
      Prepared s = pool ? pool->take(taken) : prepare(current, epoch_key, shared);
      ++taken;
      if (s.error) std::rethrow_exception(s.error);
      if (s.skipped) continue;
      rows.add(std::move(s), current);
    }
    next = std::max(next, hi);
    current = -1;
    Batch b;
    if (rows.images.empty())
      b.labels = empty({0}, DType::i32);
    else
      b = collate(rows);
    if (!push(std::move(b))) return;
  }
}

void Loader::Rows::add(Prepared&& s, std::int64_t index) {
  MPQ_CHECK(images.empty() || s.image.shape() == images.front().shape(), "image shape ",
            shape_str(s.image.shape()), " differs from the batch's ",
            shape_str(images.front().shape()),
            " (use a transform that crops or resizes to one size)");
  images.push_back(std::move(s.image));
  labels.push_back(s.label);
  indices.push_back(index);
}

Batch Loader::collate(Rows& rows) const {
  std::vector<Tensor>& images = rows.images;
  const Shape& s = images.front().shape();
  const auto n = static_cast<std::int64_t>(images.size());
  Batch b;
  // Pinned batches copy to a GPU asynchronously (empty_pinned, core/tensor.h).
  b.images = options_.pin_memory ? empty_pinned({n, s[0], s[1], s[2]}, DType::f32)
                                 : empty({n, s[0], s[1], s[2]}, DType::f32);
  const std::int64_t per = numel_of(s);
  float* dst = b.images.data<float>();
  for (std::int64_t k = 0; k < n; ++k)
    std::memcpy(dst + k * per, images[static_cast<std::size_t>(k)].data<float>(),
                static_cast<std::size_t>(per) * sizeof(float));
  b.labels = from_vector<std::int32_t>(rows.labels, {n});
  b.indices = std::move(rows.indices);
  return b;
}

}  // namespace mpq::data
