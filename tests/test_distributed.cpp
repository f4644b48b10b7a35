// train::Distributed's collectives between real processes: run under
//   mpirun --oversubscribe -np 2 test_distributed
// (ctest does; alone it is a job of one and checks that every collective is
// then the identity). Every process runs every case; checks inside a
// collective sequence are non-fatal (CHECK), so that a failing process still
// makes the same collectives as the others instead of leaving them waiting.
// The exit code is the worst over all processes.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

#include "core/layout.h"
#include "cuda_util.h"
#include "ops/batch_norm.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "test_util.h"
#include "train/distributed.h"

using namespace mpq;
using train::Distributed;
using train::Reduce;

namespace {

// Element i of process r's tensor: distinct per process and element, exact
// in every dtype tested (small integers).
double value(int r, std::int64_t i) {
  return static_cast<double>((i * 7 + 3 * r + 1) % 23) - 5;
}

Tensor filled(const Shape& shape, DType dtype, int r) {
  std::vector<double> v(static_cast<std::size_t>(numel_of(shape)));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = value(r, static_cast<std::int64_t>(i));
  return from_vector(v, shape).to(dtype);
}

Tensor expected_sum(const Shape& shape, DType dtype, int size) {
  std::vector<double> v(static_cast<std::size_t>(numel_of(shape)), 0.0);
  for (int r = 0; r < size; ++r)
    for (std::size_t i = 0; i < v.size(); ++i) v[i] += value(r, static_cast<std::int64_t>(i));
  return from_vector(v, shape).to(dtype);
}

}  // namespace

TEST_CASE("distributed: the job", "[distributed]") {
  Distributed& d = Distributed::get();
  CHECK(d.size() >= 1);
  CHECK(d.rank() >= 0);
  CHECK(d.rank() < d.size());
  CHECK(d.local_rank() < d.local_size());
  CHECK(d.is_root() == (d.rank() == 0));
  if (const char* n = std::getenv("OMPI_COMM_WORLD_SIZE")) CHECK(d.size() == std::atoi(n));
  CHECK(Distributed::built_with_mpi());
  INFO(d.describe());
  CHECK(d.describe().find("of " + std::to_string(d.size())) != std::string::npos);
}

TEST_CASE("distributed: all-reduce sums and averages of several sizes and dtypes",
          "[distributed]") {
  Distributed& d = Distributed::get();
  const int r = d.rank(), n = d.size();
  for (const DType dt : {DType::f32, DType::f64, DType::i32, DType::i8, DType::u8}) {
    for (const std::int64_t size : {0, 1, 7, 1000, 70001}) {
      // i8/u8 sums must stay in range: only small tensors of small values.
      if ((dt == DType::i8 || dt == DType::u8) && size > 1000) continue;
      Tensor t = filled({size}, DType::f64, r);
      if (dt == DType::u8) t = add(t, 5.0);  // non-negative
      t = t.to(dt);
      Tensor expect = expected_sum({size}, DType::f64, n);
      if (dt == DType::u8) expect = add(expect, 5.0 * n);
      d.all_reduce({t});
      INFO(dtype_name(dt) << " x " << size);
      CHECK_CLOSE(t.to(DType::f64), expect, 0, 0);
    }
  }
  // Average (floating only), several tensors in one call, one bucket each
  // when bucket_bytes is small, a non-contiguous view among them.
  const std::size_t saved = d.bucket_bytes;
  d.bucket_bytes = 4096;
  Tensor a = filled({3000}, DType::f32, r), b = filled({5, 4}, DType::f64, r),
         c = filled({40, 30}, DType::f32, r);
  Tensor ct = c.transpose(0, 1);  // non-contiguous
  const std::int64_t before = d.collectives();
  d.all_reduce({a, b, ct}, Reduce::average);
  d.bucket_bytes = saved;
  CHECK_CLOSE(a, mul(expected_sum({3000}, DType::f32, n), 1.0 / n), 1e-6, 1e-6);
  CHECK_CLOSE(b, mul(expected_sum({5, 4}, DType::f64, n), 1.0 / n), 1e-12, 1e-12);
  CHECK_CLOSE(c, mul(expected_sum({40, 30}, DType::f32, n), 1.0 / n), 1e-6, 1e-6);
  // f32 3000 (12 kB: alone, over the bucket), f64 (its own dtype), f32 4800 B: 3 buckets.
  if (d.multi()) CHECK(d.collectives() - before == 3);
  // Host values.
  std::vector<double> v{1.0 + r, 0.5};
  d.all_reduce(v);
  CHECK(v[0] == n * (n + 1) / 2.0);
  CHECK(v[1] == 0.5 * n);
  // An average of integers is refused on every process alike.
  Tensor i = filled({4}, DType::i32, r);
  CHECK_THROWS_WITH(d.all_reduce({i}, Reduce::average), Catch::Matchers::Contains("average"));
}

TEST_CASE("distributed: broadcast of tensors and text; barrier", "[distributed]") {
  Distributed& d = Distributed::get();
  const int r = d.rank(), n = d.size(), root = n - 1;
  Tensor a = filled({1000}, DType::f32, r), b = filled({3, 3}, DType::i32, r);
  Tensor bt = b.transpose(0, 1);
  d.broadcast({a, bt}, root);
  CHECK_CLOSE(a, filled({1000}, DType::f32, root), 0, 0);
  CHECK_CLOSE(b.to(DType::f64), filled({3, 3}, DType::f64, root), 0, 0);
  std::string text = r == root ? std::string("from the last rank\0with a zero", 30) : "x";
  d.broadcast(text, root);
  CHECK(text == std::string("from the last rank\0with a zero", 30));
  d.barrier();
}

TEST_CASE("distributed: batch norm synchronised over the processes equals the whole batch's",
          "[distributed][batch_norm]") {
  Distributed& d = Distributed::get();
  const int r = d.rank(), n = d.size();
  // The whole batch (the same on every process), 3 images per process.
  const std::int64_t N = 3 * n, C = 4;
  const Tensor x = test::rand_f64({N, C, 5, 3}, 21, -1, 2).to(DType::f32);
  const Tensor w = test::rand_f64({N, C, 5, 3}, 22).to(DType::f32);
  const Tensor gamma = test::rand_f64({C}, 23, 0.5, 1.5).to(DType::f32),
               beta = test::rand_f64({C}, 24).to(DType::f32);
  Tensor xf = to_channels_last(x).detach().set_requires_grad(true);
  Tensor rmf = zeros({C}), rvf = ones({C});
  const Tensor yf = batch_norm2d(xf, gamma, beta, rmf, rvf, true);
  sum(mul(yf, w)).backward();
  // This process's slice.
  Tensor xs = to_channels_last(x.narrow(0, 3 * r, 3).contiguous()).detach().set_requires_grad(true);
  Tensor rm = zeros({C}), rv = ones({C});
  const Tensor ys = batch_norm2d(xs, gamma, beta, rm, rv, true, 0.1, 1e-5,
                                 [&d](Tensor& t) { d.all_reduce({t}); });
  sum(mul(ys, w.narrow(0, 3 * r, 3).contiguous())).backward();
  CHECK_CLOSE(ys.contiguous(), yf.narrow(0, 3 * r, 3).contiguous(), 2e-5, 2e-5);
  CHECK_CLOSE(xs.grad().contiguous(), xf.grad().narrow(0, 3 * r, 3).contiguous(), 2e-5, 2e-5);
  CHECK_CLOSE(rm, rmf, 1e-6, 1e-6);
  CHECK_CLOSE(rv, rvf, 1e-6, 1e-6);
}

TEST_CASE("distributed: CUDA tensors through NCCL; synchronised batch norm on the GPU",
          "[distributed][cuda]") {
  // Even a job of one runs NCCL for CUDA tensors (a communicator of one), so
  // one lent GPU checks this path (scripts/gpu_check.sh); under mpirun each
  // process uses the GPU of its local rank.
  if (!Distributed::built_with_nccl()) {
    std::cout << "[mpq-skip] this build has no NCCL" << std::endl;
    return;
  }
  MPQ_REQUIRE_CUDA();
  Distributed& d = Distributed::get();
  const int r = d.rank(), n = d.size();
  const Device gpu = Device::cuda(d.local_rank() % device_count(DeviceType::cuda));
  Tensor a = filled({70001}, DType::f32, r).to(gpu), b = filled({6, 5}, DType::f64, r).to(gpu);
  Tensor bt = b.transpose(0, 1);
  d.all_reduce({a});
  d.all_reduce({bt}, Reduce::average);
  CHECK_CLOSE(a.to(Device::cpu()), expected_sum({70001}, DType::f32, n), 0, 0);
  CHECK_CLOSE(b.to(Device::cpu()), mul(expected_sum({6, 5}, DType::f64, n), 1.0 / n), 1e-12, 1e-12);
  Tensor c = filled({100}, DType::f32, r).to(gpu);
  d.broadcast({c}, n - 1);
  CHECK_CLOSE(c.to(Device::cpu()), filled({100}, DType::f32, n - 1), 0, 0);
  // Synchronised batch norm with the CUDA kernels (statistics, backward sums)
  // against the whole batch on the CPU.
  const std::int64_t N = 2 * n, C = 3;
  const Tensor x = test::rand_f64({N, C, 4, 4}, 31, -1, 2).to(DType::f32);
  const Tensor w = test::rand_f64({N, C, 4, 4}, 32).to(DType::f32);
  const Tensor gamma = test::rand_f64({C}, 33, 0.5, 1.5).to(DType::f32), beta = zeros({C});
  Tensor xf = x.detach().set_requires_grad(true);
  Tensor rmf = zeros({C}), rvf = ones({C});
  sum(mul(batch_norm2d(xf, gamma, beta, rmf, rvf, true), w)).backward();
  Tensor xs = x.narrow(0, 2 * r, 2).contiguous().to(gpu).detach().set_requires_grad(true);
  Tensor rm = zeros({C}).to(gpu), rv = ones({C}).to(gpu);
  const Tensor ys = batch_norm2d(xs, gamma.to(gpu), beta.to(gpu), rm, rv, true, 0.1, 1e-5,
                                 [&d](Tensor& t) { d.all_reduce({t}); });
  sum(mul(ys, w.narrow(0, 2 * r, 2).contiguous().to(gpu))).backward();
  CHECK_CLOSE(xs.grad().to(Device::cpu()), xf.grad().narrow(0, 2 * r, 2).contiguous(), 2e-5, 2e-5);
  CHECK_CLOSE(rm.to(Device::cpu()), rmf, 1e-6, 1e-6);
  CHECK_CLOSE(rv.to(Device::cpu()), rvf, 1e-6, 1e-6);
}

int main(int argc, char** argv) {
  Distributed& d = Distributed::get();
  const int failed = Catch::Session().run(argc, argv);
  std::vector<double> worst{failed > 0 ? 1.0 : 0.0};
  d.all_reduce(worst);
  d.finalize();
  return worst[0] > 0 ? 1 : 0;
}
