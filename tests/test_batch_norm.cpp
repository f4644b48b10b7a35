#include "test_util.h"

#include "ops/batch_norm.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/layout.h"
#include "ops/shape.h"

using namespace mpq;
using Catch::Matchers::Contains;
using test::check_gradients;
using test::rand_f64;

namespace {
// The formulas of ops/batch_norm.h composed from elementwise and reduce ops.
Tensor batch_norm_composed(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  const Tensor mu = mean(x, {0, 2, 3}, true);
  const Tensor var = mean(pow(sub(x, mu), 2.0), {0, 2, 3}, true);
  const Tensor xhat = div(sub(x, mu), sqrt(add(var, eps)));
  return add(mul(xhat, gamma.reshape({1, -1, 1, 1})), beta.reshape({1, -1, 1, 1}));
}
}  // namespace

TEST_CASE("batch_norm2d: training forward against the composed formula, running statistics",
          "[batch_norm]") {
  const Tensor x = rand_f64({4, 3, 5, 2}, 1, -2, 3), gamma = rand_f64({3}, 2),
               beta = rand_f64({3}, 3);
  Tensor rm = zeros({3}, DType::f64), rv = ones({3}, DType::f64);
  const Tensor y = batch_norm2d(x, gamma, beta, rm, rv, true, 0.1, 1e-5);
  CHECK_CLOSE(y, batch_norm_composed(x, gamma, beta, 1e-5), 1e-12, 1e-12);
  const Tensor mu = mean(x, {0, 2, 3});
  const Tensor var_unbiased =
      mul(mean(pow(sub(x, mu.reshape({1, 3, 1, 1})), 2.0), {0, 2, 3}), 40.0 / 39.0);
  CHECK_CLOSE(rm, mul(mu, 0.1), 1e-12, 1e-12);
  CHECK_CLOSE(rv, add(mul(var_unbiased, 0.1), 0.9), 1e-12, 1e-12);
  // Inference uses the running statistics.
  const Tensor ye = batch_norm2d(x, gamma, beta, rm, rv, false, 0.1, 1e-5);
  const Tensor expect =
      add(mul(div(sub(x, rm.reshape({1, 3, 1, 1})), sqrt(add(rv.reshape({1, 3, 1, 1}), 1e-5))),
              gamma.reshape({1, 3, 1, 1})),
          beta.reshape({1, 3, 1, 1}));
  CHECK_CLOSE(ye, expect, 1e-12, 1e-12);
  // float32 agrees.
  Tensor rm32 = zeros({3}), rv32 = ones({3});
  CHECK_CLOSE(
      batch_norm2d(x.to(DType::f32), gamma.to(DType::f32), beta.to(DType::f32), rm32, rv32, true),
      y, 1e-5, 1e-5);
}

TEST_CASE("batch_norm2d: gradients in training and inference", "[batch_norm][grad]") {
  const Tensor x = rand_f64({3, 2, 3, 2}, 4), gamma = rand_f64({2}, 5, 0.5, 1.5),
               beta = rand_f64({2}, 6);
  check_gradients(
      [](const auto& in) { return batch_norm2d(in[0], in[1], in[2], Tensor(), Tensor(), true); },
      {x, gamma, beta}, 1e-6, 1e-4);
  const Tensor rm = rand_f64({2}, 7), rv = rand_f64({2}, 8, 0.5, 2);
  check_gradients(
      [rm, rv](const auto& in) { return batch_norm2d(in[0], in[1], in[2], rm, rv, false); },
      {x, gamma, beta});
  // Without affine parameters.
  check_gradients(
      [](const auto& in) {
        return batch_norm2d(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true);
      },
      {x}, 1e-6, 1e-4);
}

TEST_CASE("batch_norm2d: float32 backward against float64", "[batch_norm]") {
  const Tensor x64 = rand_f64({8, 4, 6, 6}, 9), g64 = rand_f64({8, 4, 6, 6}, 10),
               gm64 = rand_f64({4}, 11);
  Tensor x = x64.to(DType::f32), gm = gm64.to(DType::f32), bt = zeros({4});
  Tensor xr = x64.clone().detach(), gmr = gm64.clone().detach(), btr = zeros({4}, DType::f64);
  for (Tensor* t : {&x, &gm, &bt, &xr, &gmr, &btr}) t->set_requires_grad(true);
  batch_norm2d(x, gm, bt, Tensor(), Tensor(), true).backward(g64.to(DType::f32));
  batch_norm2d(xr, gmr, btr, Tensor(), Tensor(), true).backward(g64);
  CHECK_CLOSE(x.grad(), xr.grad(), 1e-4, 1e-4);
  CHECK_CLOSE(gm.grad(), gmr.grad(), 1e-4, 1e-4);
  CHECK_CLOSE(bt.grad(), btr.grad(), 1e-4, 1e-4);
}

TEST_CASE("batch_norm2d: errors", "[batch_norm]") {
  CHECK_THROWS_WITH(batch_norm2d(zeros({2, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                    Contains("[N, C, H, W]"));
  CHECK_THROWS_WITH(
      batch_norm2d(zeros({2, 3, 2, 2}), zeros({4}), Tensor(), Tensor(), Tensor(), true),
      Contains("[4]") && Contains("[3]"));
  CHECK_THROWS_WITH(
      batch_norm2d(zeros({2, 3, 2, 2}), Tensor(), Tensor(), Tensor(), Tensor(), false),
      Contains("running_mean"));
  CHECK_THROWS_WITH(batch_norm2d(zeros({1, 3, 1, 1}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                    Contains("more than one value"));
}

TEST_CASE("batch_norm2d: empty inputs are refused; large means keep float32 precision",
          "[batch_norm]") {
  CHECK_THROWS_WITH(batch_norm2d(zeros({2, 0, 4, 4}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                    Contains("no channels"));
  CHECK_THROWS_WITH(batch_norm2d(zeros({0, 3, 4, 4}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                    Contains("more than one value"));
  // Inputs around 1000 with spread 1: dx must match float64 closely.
  const Tensor x64 = add(rand_f64({4, 2, 5, 5}, 12), 1000.0), g64 = rand_f64({4, 2, 5, 5}, 13);
  Tensor x = x64.to(DType::f32), xr = x64.clone().detach();
  x.set_requires_grad(true);
  xr.set_requires_grad(true);
  batch_norm2d(x, Tensor(), Tensor(), Tensor(), Tensor(), true).backward(g64.to(DType::f32));
  batch_norm2d(xr, Tensor(), Tensor(), Tensor(), Tensor(), true).backward(g64);
  CHECK_CLOSE(x.grad(), xr.grad(), 2e-3, 2e-3);
}

namespace {
// Two "processes" sharing one batch, as two threads: the sum of both threads'
// tensors, handed to each (what train::Distributed's all-reduce does).
class TwoThreadSum {
 public:
  void operator()(Tensor& t) {
    const std::vector<double> v = t.to_vector<double>();
    std::unique_lock<std::mutex> lock(mutex_);
    const int generation = generation_;
    if (arrived_ == 0) {
      acc_ = v;
    } else {
      for (std::size_t i = 0; i < v.size(); ++i) acc_[i] += v[i];
    }
    if (++arrived_ == 2) {
      result_ = acc_;
      arrived_ = 0;
      ++generation_;
      changed_.notify_all();
    } else {
      changed_.wait(lock, [&] { return generation_ != generation; });
    }
    t.copy_(from_vector(result_, t.shape()).to(t.dtype()));
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int arrived_ = 0, generation_ = 0;
  std::vector<double> acc_, result_;
};

// batch_norm2d on the whole batch against two threads each holding a slice
// (rows [0, split) and [split, N)) with synchronised statistics: outputs,
// running statistics, dx; dgamma and dbeta are each slice's own and add up.
void check_synchronised(DType dtype, bool channels_last, std::int64_t split) {
  const std::int64_t N = 6, C = 3;
  const Tensor x = rand_f64({N, C, 4, 5}, 11, -1, 3).to(dtype);
  const Tensor w = rand_f64({N, C, 4, 5}, 12).to(dtype);  // dL/dy
  const Tensor gamma0 = rand_f64({C}, 13, 0.5, 1.5).to(dtype), beta0 = rand_f64({C}, 14).to(dtype);
  auto layout = [&](const Tensor& t) { return channels_last ? to_channels_last(t) : t; };
  // The whole batch in one process.
  Tensor xf = layout(x).detach().set_requires_grad(true);
  Tensor gf = gamma0.detach().set_requires_grad(true), bf = beta0.detach().set_requires_grad(true);
  Tensor rmf = zeros({C}, dtype), rvf = ones({C}, dtype);
  const Tensor yf = batch_norm2d(xf, gf, bf, rmf, rvf, true, 0.1, 1e-5);
  sum(mul(yf, w)).backward();
  // Two slices.
  TwoThreadSum hook;
  struct Part {
    Tensor x, gamma, beta, rm, rv, y;
  };
  Part parts[2];
  auto run = [&](int r) {
    const std::int64_t lo = r == 0 ? 0 : split, n = r == 0 ? split : N - split;
    Part& p = parts[r];
    p.x = layout(x.narrow(0, lo, n).contiguous()).detach().set_requires_grad(true);
    p.gamma = gamma0.detach().clone().set_requires_grad(true);
    p.beta = beta0.detach().clone().set_requires_grad(true);
    p.rm = zeros({C}, dtype);
    p.rv = ones({C}, dtype);
    p.y = batch_norm2d(p.x, p.gamma, p.beta, p.rm, p.rv, true, 0.1, 1e-5,
                       [&](Tensor& t) { hook(t); });
    sum(mul(p.y, w.narrow(0, lo, n).contiguous())).backward();
  };
  std::thread other(run, 1);
  run(0);
  other.join();
  const double tol = dtype == DType::f64 ? 1e-11 : 2e-5;
  CHECK_CLOSE(concat({parts[0].y.contiguous(), parts[1].y.contiguous()}, 0), yf.contiguous(), tol,
              tol);
  CHECK_CLOSE(concat({parts[0].x.grad().contiguous(), parts[1].x.grad().contiguous()}, 0),
              xf.grad().contiguous(), tol, tol);
  for (const Part& p : parts) {
    CHECK_CLOSE(p.rm, rmf, tol, tol);
    CHECK_CLOSE(p.rv, rvf, tol, tol);
    CHECK(is_channels_last(p.y) == channels_last);
  }
  CHECK_CLOSE(add(parts[0].gamma.grad(), parts[1].gamma.grad()), gf.grad(), tol, tol);
  CHECK_CLOSE(add(parts[0].beta.grad(), parts[1].beta.grad()), bf.grad(), tol, tol);
}
}  // namespace

TEST_CASE("batch_norm2d: synchronised statistics over two slices equal the whole batch's",
          "[batch_norm][distributed]") {
  check_synchronised(DType::f64, false, 2);  // unequal slices: 2 + 4 images
  check_synchronised(DType::f64, false, 3);
  check_synchronised(DType::f32, true, 1);  // channels-last kernels; a slice of one image
}

TEST_CASE("batch_norm2d: synchronised gradients in a job of one process", "[batch_norm][grad]") {
  // The synchronised path (statistics and backward totals passed through the
  // hook) with nothing to add: the gradients of the formula.
  const Tensor x = rand_f64({3, 2, 3, 2}, 4), gamma = rand_f64({2}, 5, 0.5, 1.5),
               beta = rand_f64({2}, 6);
  const BatchNormSync alone = [](Tensor&) {};
  check_gradients(
      [alone](const auto& in) {
        Tensor rm = zeros({2}, DType::f64), rv = ones({2}, DType::f64);
        return batch_norm2d(in[0], in[1], in[2], rm, rv, true, 0.1, 1e-5, alone);
      },
      {x, gamma, beta}, 1e-6, 1e-4);
  // A running mean far from the data shifts the sums (no cancellation).
  Tensor rm = full({2}, 100, DType::f64), rv = ones({2}, DType::f64);
  Tensor rm2 = full({2}, 100, DType::f64), rv2 = ones({2}, DType::f64);
  CHECK_CLOSE(batch_norm2d(x, gamma, beta, rm, rv, true, 0.1, 1e-5, alone),
              batch_norm2d(x, gamma, beta, rm2, rv2, true, 0.1, 1e-5), 1e-9, 1e-9);
  CHECK_CLOSE(rm, rm2, 1e-9, 1e-12);
  CHECK_CLOSE(rv, rv2, 1e-9, 1e-12);
  // The whole batch's count, not the slice's, decides "more than one value".
  const BatchNormSync one_value = [](Tensor& t) {
    // Pretend the other processes had nothing: the count stays 1.
    (void)t;
  };
  CHECK_THROWS_WITH(batch_norm2d(rand_f64({1, 2, 1, 1}, 9), Tensor(), Tensor(), Tensor(), Tensor(),
                                 true, 0.1, 1e-5, one_value),
                    Contains("more than one value per channel"));
}
