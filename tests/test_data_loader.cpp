#include "test_util.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>

#include "data/loader.h"

using namespace mpq;
using Catch::Matchers::Contains;

namespace {

// Sample i: a float32 [1, 2, 2] image filled with i, label i % 7. Optionally
// slow, failing at one index, skipping one index, or with a different shape.
class RangeDataset : public data::Dataset {
 public:
  explicit RangeDataset(std::int64_t n) : n_(n) {}
  std::int64_t size() const override { return n_; }
  std::optional<data::Sample> get(std::int64_t i) const override {
    ++gets;
    // How many get() calls run at once (the loader's workers).
    const int now = ++active;
    for (int seen = max_active.load();
         now > seen && !max_active.compare_exchange_weak(seen, now);) {
    }
    struct Leave {
      std::atomic<int>& a;
      ~Leave() { --a; }
    } leave{active};
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    // Every third sample slow: with several workers, results finish out of order.
    if (uneven && i % 3 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(3));
    if (i == fail_at) MPQ_FAIL("RangeDataset: cannot read item ", i);
    if (i == skip_at) return std::nullopt;
    const std::int64_t side = i == odd_shape_at ? 3 : 2;
    return data::Sample{full({1, side, 2}, static_cast<double>(i)),
                        static_cast<std::int32_t>(i % 7)};
  }

  std::int64_t fail_at = -1, skip_at = -1, odd_shape_at = -1;
  int delay_ms = 0;
  bool uneven = false;
  mutable std::atomic<std::int64_t> gets{0};
  mutable std::atomic<int> active{0}, max_active{0};

 private:
  std::int64_t n_;
};

// Collects one epoch: the dataset index order and the batch sizes, checking
// that every row's image and label belong to its index.
std::vector<std::int64_t> run_epoch(data::Loader& loader, std::int64_t epoch,
                                    std::vector<std::int64_t>* batch_sizes = nullptr) {
  loader.start_epoch(epoch);
  std::vector<std::int64_t> order;
  data::Batch b;
  while (loader.next(b)) {
    const std::int64_t n = b.images.shape()[0];
    REQUIRE(b.images.dtype() == DType::f32);
    REQUIRE(b.labels.dtype() == DType::i32);
    REQUIRE(b.labels.shape() == Shape{n});
    REQUIRE(static_cast<std::int64_t>(b.indices.size()) == n);
    const auto img = b.images.to_vector<float>();
    const auto lbl = b.labels.to_vector<std::int32_t>();
    const std::int64_t per = b.images.numel() / n;
    for (std::int64_t k = 0; k < n; ++k) {
      const std::int64_t i = b.indices[static_cast<std::size_t>(k)];
      CHECK(lbl[static_cast<std::size_t>(k)] == i % 7);
      CHECK(img[static_cast<std::size_t>(k * per)] == static_cast<float>(i));
      order.push_back(i);
    }
    if (batch_sizes) batch_sizes->push_back(n);
  }
  return order;
}

std::vector<std::int64_t> sorted(std::vector<std::int64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::int64_t> range(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

}  // namespace

TEST_CASE("data: loader batch shapes, partial last batch, every sample once", "[data][loader]") {
  RangeDataset ds(10);
  data::Loader loader(ds, nullptr, {.batch_size = 4, .seed = 1});
  CHECK(loader.num_batches() == 3);
  std::vector<std::int64_t> sizes;
  const auto order = run_epoch(loader, 0, &sizes);
  CHECK(sizes == std::vector<std::int64_t>{4, 4, 2});
  CHECK(sorted(order) == range(10));
  CHECK(order == data::Loader::epoch_order(10, 1, 0, true));

  data::Loader drop(ds, nullptr, {.batch_size = 4, .drop_last = true, .seed = 1});
  CHECK(drop.num_batches() == 2);
  sizes.clear();
  CHECK(run_epoch(drop, 0, &sizes).size() == 8);
  CHECK(sizes == std::vector<std::int64_t>{4, 4});

  data::Loader in_order(ds, nullptr, {.batch_size = 3, .shuffle = false});
  sizes.clear();
  CHECK(run_epoch(in_order, 5, &sizes) == range(10));
  CHECK(sizes == std::vector<std::int64_t>{3, 3, 3, 1});

  // Image shape [B, C, H, W]; batch_size larger than the dataset gives one batch.
  data::Loader big(ds, nullptr, {.batch_size = 64});
  big.start_epoch(0);
  data::Batch b;
  REQUIRE(big.next(b));
  CHECK(b.images.shape() == Shape{10, 1, 2, 2});
  CHECK_FALSE(big.next(b));
  CHECK_FALSE(big.next(b));  // stays exhausted
}

TEST_CASE("data: loader order depends only on seed and epoch", "[data][loader]") {
  RangeDataset ds(50);
  data::Loader a(ds, nullptr, {.batch_size = 8, .seed = 42});
  data::Loader b(ds, nullptr, {.batch_size = 5, .seed = 42, .prefetch = 1});
  const auto a0 = run_epoch(a, 0), a1 = run_epoch(a, 1);
  CHECK(a0 == run_epoch(b, 0));  // another batch size, same order
  CHECK(a1 == run_epoch(b, 1));
  CHECK(a0 == run_epoch(a, 0));  // replaying an epoch
  CHECK(a0 != a1);
  CHECK(sorted(a0) == range(50));
  CHECK(sorted(a1) == range(50));
  data::Loader c(ds, nullptr, {.batch_size = 8, .seed = 43});
  CHECK(run_epoch(c, 0) != a0);

  // Augmentation: sample i of an epoch gets the same random draws whatever the
  // batch size; another epoch gets other draws.
  auto noisy = [](const Tensor& x, Generator& g) { return add(x, full({1}, g.uniform())); };
  auto noise_of = [&](std::int64_t batch, std::int64_t epoch) {
    data::Loader l(ds, noisy, {.batch_size = batch, .seed = 7});
    l.start_epoch(epoch);
    std::vector<float> noise(50);
    data::Batch batch_out;
    while (l.next(batch_out)) {
      const auto v = batch_out.images.to_vector<float>();
      for (std::size_t k = 0; k < batch_out.indices.size(); ++k)
        noise[static_cast<std::size_t>(batch_out.indices[k])] =
            v[k * 4] - static_cast<float>(batch_out.indices[k]);
    }
    return noise;
  };
  const auto n3 = noise_of(3, 0);
  CHECK(n3 == noise_of(16, 0));
  CHECK(n3 != noise_of(3, 1));
  CHECK(std::set<float>(n3.begin(), n3.end()).size() > 40);  // independent draws per sample
}

TEST_CASE("data: loader epoch keys and the epoch_stream randomness", "[data][loader]") {
  RangeDataset ds(23);
  // start_epoch(e) is start_epoch_key of the seed's key for e: the same batches.
  data::Loader a(ds, nullptr, {.batch_size = 4, .seed = 9});
  const auto by_epoch = run_epoch(a, 2);
  a.start_epoch_key(12345);
  std::vector<std::int64_t> keyed;
  data::Batch b;
  while (a.next(b)) keyed.insert(keyed.end(), b.indices.begin(), b.indices.end());
  Generator order_gen(12345);
  CHECK(keyed == data::Loader::key_order(23, order_gen, true));
  CHECK(keyed != by_epoch);

  // epoch_stream: the order is randperm(N, Generator(key)) and the transforms
  // continue that generator sample after sample, as a single-threaded
  // pipeline that shuffles and augments from one generator would draw.
  auto draw = [](const Tensor& x, Generator& g) {
    return add(x, full({1}, static_cast<double>(g.below(1000)) * 1000.0));
  };
  data::Loader s(ds, draw,
                 {.batch_size = 5, .seed = 0, .randomness = data::Randomness::epoch_stream});
  s.start_epoch_key(77);
  std::vector<float> got;
  while (s.next(b)) {
    const auto v = b.images.to_vector<float>();
    for (std::size_t k = 0; k < b.indices.size(); ++k) got.push_back(v[k * 4]);
  }
  Generator expect_gen(77);
  const std::vector<std::int32_t> perm = randperm(23, expect_gen).to_vector<std::int32_t>();
  std::vector<float> expected;
  for (const std::int32_t i : perm)
    expected.push_back(static_cast<float>(i) +
                       static_cast<float>(expect_gen.below(1000)) * 1000.0f);
  CHECK(got == expected);
  // A shared stream cannot be split over threads.
  CHECK_THROWS_WITH(
      data::Loader(ds, draw, {.workers = 2, .randomness = data::Randomness::epoch_stream}),
      Contains("epoch_stream needs workers = 1"));
}

TEST_CASE("data: loader prepares a bounded number of batches ahead", "[data][loader]") {
  RangeDataset ds(1000);
  data::Loader loader(ds, nullptr, {.batch_size = 10, .prefetch = 2});
  loader.start_epoch(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // 2 queued batches plus the one the worker is filling.
  CHECK(ds.gets.load() <= 30);
  CHECK(ds.gets.load() >= 20);
  data::Batch b;
  REQUIRE(loader.next(b));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(ds.gets.load() <= 40);
}

TEST_CASE("data: destroying or restarting the loader mid-epoch returns promptly",
          "[data][loader]") {
  using clock = std::chrono::steady_clock;
  RangeDataset ds(100000);
  ds.delay_ms = 2;
  for (int consumed : {0, 1, 3}) {
    auto t0 = clock::now();
    {
      data::Loader loader(ds, nullptr, {.batch_size = 4, .prefetch = 2});
      loader.start_epoch(0);
      data::Batch b;
      for (int k = 0; k < consumed; ++k) REQUIRE(loader.next(b));
      t0 = clock::now();
    }  // destructor stops and joins the worker
    CHECK(clock::now() - t0 < std::chrono::milliseconds(1000));
  }
  // A queue that is full when the loader goes (worker blocked on the push).
  {
    data::Loader loader(ds, nullptr, {.batch_size = 2, .prefetch = 1});
    loader.start_epoch(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto t0 = clock::now();
    loader.stop();
    CHECK(clock::now() - t0 < std::chrono::milliseconds(1000));
    data::Batch b;
    CHECK_FALSE(loader.next(b));  // stopped: nothing more this epoch
  }
  // Restarting mid-epoch: the new epoch is complete and uncontaminated.
  ds.delay_ms = 0;
  RangeDataset small(30);
  data::Loader loader(small, nullptr, {.batch_size = 4, .seed = 5});
  loader.start_epoch(0);
  data::Batch b;
  REQUIRE(loader.next(b));
  CHECK(run_epoch(loader, 1) == data::Loader::epoch_order(30, 5, 1, true));
}

TEST_CASE("data: loader errors surface in next()", "[data][loader]") {
  // The same with reading threads: an error surfaces in epoch order,
  // whichever thread met it.
  const int workers = GENERATE(1, 3);
  INFO("workers " << workers);
  SECTION("dataset error, after the batches before it") {
    RangeDataset ds(10);
    ds.fail_at = 5;
    data::Loader loader(ds, nullptr, {.batch_size = 2, .shuffle = false, .workers = workers});
    loader.start_epoch(0);
    data::Batch b;
    REQUIRE(loader.next(b));
    REQUIRE(loader.next(b));
    CHECK(b.indices == std::vector<std::int64_t>{2, 3});
    CHECK_THROWS_WITH(loader.next(b),
                      Contains("sample 5") && Contains("RangeDataset: cannot read item 5"));
    CHECK_FALSE(loader.next(b));
    // A new epoch starts afresh (and fails again at the same place).
    loader.start_epoch(1);
    REQUIRE(loader.next(b));
    REQUIRE(loader.next(b));
    CHECK_THROWS_AS(loader.next(b), Error);
  }
  SECTION("transform error keeps its type") {
    RangeDataset ds(10);
    auto throwing = [](const Tensor& x, Generator&) -> Tensor {
      if (x.to_vector<float>()[0] == 7.0f) throw std::runtime_error("transform refused 7");
      return x;
    };
    data::Loader loader(ds, throwing, {.batch_size = 3, .workers = workers});
    loader.start_epoch(0);
    data::Batch b;
    CHECK_THROWS_AS(
        [&] {
          while (loader.next(b)) {
          }
        }(),
        std::runtime_error);
  }
  SECTION("images of different shapes") {
    RangeDataset ds(6);
    ds.odd_shape_at = 1;
    data::Loader loader(ds, nullptr, {.batch_size = 3, .shuffle = false, .workers = workers});
    loader.start_epoch(0);
    data::Batch b;
    CHECK_THROWS_WITH(loader.next(b), Contains("sample 1") && Contains("[1, 3, 2]") &&
                                          Contains("differs from the batch's [1, 2, 2]"));
  }
  SECTION("usage errors") {
    RangeDataset ds(6);
    data::Loader loader(ds, nullptr, {.batch_size = 3});
    data::Batch b;
    CHECK_THROWS_WITH(loader.next(b), Contains("start_epoch"));
    CHECK_THROWS_WITH(data::Loader(ds, nullptr, {.batch_size = 0}), Contains("batch_size 0"));
    CHECK_THROWS_WITH(data::Loader(ds, nullptr, {.prefetch = 0}), Contains("prefetch 0"));
    CHECK_THROWS_WITH(data::Loader(ds, nullptr, {.workers = 0}), Contains("workers 0"));
  }
}

TEST_CASE("data: loader skips samples the dataset cannot provide", "[data][loader]") {
  RangeDataset ds(9);
  ds.skip_at = 3;
  data::Loader loader(ds, nullptr, {.batch_size = 4, .shuffle = false});
  std::vector<std::int64_t> sizes;
  const auto order = run_epoch(loader, 0, &sizes);
  CHECK(order == std::vector<std::int64_t>{0, 1, 2, 4, 5, 6, 7, 8});
  CHECK(sizes == std::vector<std::int64_t>{4, 4});
}

TEST_CASE("data: loader over in-memory tensors (MNIST-like [N, 28, 28] uint8)", "[data][loader]") {
  std::vector<std::uint8_t> pix(5 * 28 * 28);
  for (std::size_t k = 0; k < pix.size(); ++k) pix[k] = static_cast<std::uint8_t>(k % 251);
  const data::TensorDataset ds(from_vector(pix, {5, 28, 28}),
                               from_vector<std::int32_t>({3, 1, 4, 1, 5}, {5}));
  CHECK(ds.size() == 5);
  CHECK(ds.get(2)->label == 4);
  data::Loader loader(ds, nullptr, {.batch_size = 2, .shuffle = false});
  loader.start_epoch(0);
  data::Batch b;
  REQUIRE(loader.next(b));
  REQUIRE(loader.next(b));
  CHECK(b.images.shape() == Shape{2, 1, 28, 28});  // a channel axis is added
  CHECK(b.labels.to_vector<std::int32_t>() == std::vector<std::int32_t>{4, 1});
  const auto v = b.images.to_vector<float>();
  for (std::size_t k = 0; k < v.size(); ++k) CHECK(v[k] == static_cast<float>((2 * 784 + k) % 251));
  CHECK_THROWS_WITH(data::TensorDataset(zeros({3, 2}), from_vector<std::int32_t>({1, 2}, {2})),
                    Contains("3 images but 2 labels"));
}

TEST_CASE("data: EvenSubset spreads its samples over the whole dataset", "[data][loader]") {
  RangeDataset base(10);
  const data::EvenSubset s(base, 4);
  REQUIRE(s.size() == 4);
  // floor(i * 10 / 4) = 0, 2, 5, 7: every stretch of the listing is visited.
  const std::vector<std::int64_t> expected{0, 2, 5, 7};
  for (std::int64_t i = 0; i < 4; ++i) {
    CHECK(s.base_index(i) == expected[static_cast<std::size_t>(i)]);
    CHECK(s.get(i)->image.to_vector<float>()[0] ==
          static_cast<float>(expected[static_cast<std::size_t>(i)]));
  }
  // Asking for more than there is gives the whole dataset, in order.
  const data::EvenSubset all(base, 25);
  REQUIRE(all.size() == 10);
  for (std::int64_t i = 0; i < 10; ++i) CHECK(all.base_index(i) == i);
  CHECK_THROWS_WITH(s.get(4), Contains("index 4 outside [0, 4)"));
  CHECK_THROWS_WITH(data::EvenSubset(base, 0), Contains("at least one sample"));
  // The loader reads a subset like any dataset.
  data::Loader loader(s, nullptr, {.batch_size = 3, .shuffle = false});
  loader.start_epoch(0);
  data::Batch b;
  REQUIRE(loader.next(b));
  CHECK(b.indices == std::vector<std::int64_t>{0, 1, 2});
  CHECK(b.labels.to_vector<std::int32_t>() == std::vector<std::int32_t>{0, 2, 5});
}

namespace {

// Everything a loader delivers in one epoch, byte for byte.
struct EpochData {
  std::vector<std::int64_t> indices, batch_sizes;
  std::vector<float> images;
  std::vector<std::int32_t> labels;
  bool operator==(const EpochData&) const = default;
};

EpochData epoch_data(data::Loader& loader, std::int64_t epoch) {
  EpochData d;
  loader.start_epoch(epoch);
  data::Batch b;
  while (loader.next(b)) {
    d.indices.insert(d.indices.end(), b.indices.begin(), b.indices.end());
    d.batch_sizes.push_back(b.images.shape()[0]);
    const auto img = b.images.to_vector<float>();
    const auto lbl = b.labels.to_vector<std::int32_t>();
    d.images.insert(d.images.end(), img.begin(), img.end());
    d.labels.insert(d.labels.end(), lbl.begin(), lbl.end());
  }
  return d;
}

}  // namespace

TEST_CASE("data: loader batches are the same for any number of workers", "[data][loader]") {
  RangeDataset ds(53);
  ds.skip_at = 10;  // a skipped sample shifts the later batches: must not depend on timing
  ds.uneven = true;
  auto noisy = [](const Tensor& x, Generator& g) { return add(x, full({1}, g.uniform())); };
  data::Loader one(ds, noisy, {.batch_size = 4, .seed = 3});
  const EpochData e0 = epoch_data(one, 0), e1 = epoch_data(one, 1);
  REQUIRE(e0.indices.size() == 52);
  CHECK(e0.batch_sizes.size() == 13);
  for (int workers : {2, 3, 8}) {
    INFO("workers " << workers);
    data::Loader many(ds, noisy, {.batch_size = 4, .seed = 3, .prefetch = 1, .workers = workers});
    CHECK(epoch_data(many, 0) == e0);
    CHECK(epoch_data(many, 1) == e1);
    CHECK(epoch_data(many, 0) == e0);  // replaying an epoch
  }
  // The per-sample checks of run_epoch hold too.
  data::Loader checked(ds, nullptr, {.batch_size = 5, .seed = 3, .workers = 4});
  CHECK(run_epoch(checked, 2).size() == 52);
}

TEST_CASE("data: loader workers read samples concurrently, a bounded number ahead",
          "[data][loader]") {
  SECTION("one worker reads one sample at a time") {
    RangeDataset ds(12);
    ds.delay_ms = 5;
    data::Loader loader(ds, nullptr, {.batch_size = 4});
    run_epoch(loader, 0);
    CHECK(ds.max_active.load() == 1);
  }
  SECTION("four workers overlap") {
    RangeDataset ds(24);
    ds.delay_ms = 20;
    data::Loader loader(ds, nullptr, {.batch_size = 4, .workers = 4});
    CHECK(sorted(run_epoch(loader, 0)) == range(24));
    CHECK(ds.max_active.load() >= 2);
    CHECK(ds.max_active.load() <= 4);
  }
  SECTION("bounded read-ahead") {
    RangeDataset ds(1000);
    data::Loader loader(ds, nullptr, {.batch_size = 10, .prefetch = 2, .workers = 3});
    loader.start_epoch(0);
    // The count of get() calls once the loader has nothing left to do (waits
    // for `expected`, then a little longer to see that it stays there).
    auto settled_gets = [&](std::int64_t expected) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (ds.gets.load() < expected && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      return ds.gets.load();
    };
    // 2 queued batches, the one in hand waiting for room, and the pool's
    // window of 4 x 3 samples.
    CHECK(settled_gets(42) == 42);
    data::Batch b;
    REQUIRE(loader.next(b));  // frees one batch: 10 more
    CHECK(settled_gets(52) == 52);
  }
}

TEST_CASE("data: loader with workers stops promptly", "[data][loader]") {
  using clock = std::chrono::steady_clock;
  RangeDataset ds(100000);
  ds.delay_ms = 2;
  for (int consumed : {0, 2}) {
    auto t0 = clock::now();
    {
      data::Loader loader(ds, nullptr, {.batch_size = 4, .prefetch = 1, .workers = 4});
      loader.start_epoch(0);
      data::Batch b;
      for (int k = 0; k < consumed; ++k) REQUIRE(loader.next(b));
      t0 = clock::now();
    }  // the destructor stops the pool's threads and joins them
    CHECK(clock::now() - t0 < std::chrono::milliseconds(1000));
  }
}

namespace {
// One epoch's batches: the rows (first value of each image) of every batch,
// an empty vector for an empty batch.
std::vector<std::vector<float>> epoch_rows(data::Loader& loader, std::uint64_t key) {
  loader.start_epoch_key(key);
  std::vector<std::vector<float>> out;
  data::Batch b;
  while (loader.next(b)) {
    std::vector<float> rows;
    if (b.images.defined()) {
      const auto v = b.images.to_vector<float>();
      const std::int64_t per = b.images.numel() / b.images.shape()[0];
      for (std::int64_t k = 0; k < b.images.shape()[0]; ++k)
        rows.push_back(v[static_cast<std::size_t>(k * per)]);
      CHECK(static_cast<std::int64_t>(b.indices.size()) == b.images.shape()[0]);
    } else {
      CHECK(b.labels.shape() == Shape{0});
      CHECK(b.indices.empty());
    }
    out.push_back(rows);
  }
  return out;
}
}  // namespace

TEST_CASE("data: loader shards cut every batch into the one-process batch's slices",
          "[data][loader][distributed]") {
  RangeDataset ds(23);  // windows of 8: 8, 8, 7
  // A transform that draws: the augmentation must follow the samples.
  auto draw = [](const Tensor& x, Generator& g) {
    return add(x, full({1}, static_cast<double>(g.below(1000)) * 1000.0));
  };
  for (const data::Randomness randomness :
       {data::Randomness::per_sample, data::Randomness::epoch_stream}) {
    for (const int workers : {1, 3}) {
      if (randomness == data::Randomness::epoch_stream && workers > 1) continue;
      data::LoaderOptions o{.batch_size = 8, .workers = workers, .randomness = randomness};
      data::Loader whole(ds, draw, o);
      const auto one = epoch_rows(whole, 99);
      REQUIRE(one.size() == 3);
      for (const int count : {2, 3}) {
        std::vector<std::vector<std::vector<float>>> shards;
        for (int r = 0; r < count; ++r) {
          o.shard = {r, count};
          data::Loader part(ds, draw, o);
          shards.push_back(epoch_rows(part, 99));
          REQUIRE(shards.back().size() == one.size());  // one batch per window, everywhere
        }
        for (std::size_t b = 0; b < one.size(); ++b) {
          std::vector<float> joined;
          for (int r = 0; r < count; ++r) {
            const auto& rows = shards[static_cast<std::size_t>(r)][b];
            // Slice r of a window of w rows: [w r / count, w (r + 1) / count).
            const std::size_t w = one[b].size();
            CHECK(rows.size() == w * static_cast<std::size_t>(r + 1) / count -
                                     w * static_cast<std::size_t>(r) / count);
            joined.insert(joined.end(), rows.begin(), rows.end());
          }
          CHECK(joined == one[b]);
        }
      }
    }
  }
  // More shards than a window's rows: those shards get an empty batch.
  RangeDataset small(10);  // windows of 4: 4, 4, 2
  for (int r = 0; r < 3; ++r) {
    data::Loader part(small, nullptr, {.batch_size = 4, .shard = {r, 3}});
    const auto batches = epoch_rows(part, 5);
    REQUIRE(batches.size() == 3);
    CHECK(batches[2].size() == (r == 0 ? 0u : 1u));  // 2 rows over 3 shards: 0, 1, 1
  }
  // A skipped sample is left out of its shard's batch (no refill).
  RangeDataset skipping(8);
  skipping.skip_at = 0;
  std::int64_t rows = 0;
  for (int r = 0; r < 2; ++r) {
    data::Loader part(skipping, nullptr, {.batch_size = 8, .shuffle = false, .shard = {r, 2}});
    for (const auto& b : epoch_rows(part, 1)) rows += static_cast<std::int64_t>(b.size());
  }
  CHECK(rows == 7);
  CHECK_THROWS_WITH(data::Loader(ds, nullptr, {.shard = {2, 2}}),
                    Contains("shard 2 of 2 (expected 0 <= index < count)"));
}
