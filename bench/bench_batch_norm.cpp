// Batch-norm training kernels (ops/cpu/batch_norm.cpp), forward and backward, at
// ResNet-20's three activation shapes, batch 128, in both activation layouts
// the kernels accept (channels-last is what conv2d hands them in a network).
//
// Names: batch_norm_{fwd,bwd}/N128_C<channels>_H<side>_{nchw,nhwc}.
//
// Legend (ops/batch_norm.h), per channel c over its M = N H W values:
//   mu = mean x, var = mean (x - mu)^2, r = 1 / sqrt(var + eps), xhat = (x - mu) r
//   y = gamma xhat + beta;  running_mean <- 0.9 running_mean + 0.1 mu,
//                           running_var  <- 0.9 running_var  + 0.1 var M / (M - 1)
//   backward, g = dL/dy:  dbeta = sum g,  dgamma = sum g xhat,
//                         dx = gamma r (g - dbeta / M - xhat dgamma / M)
//
// Bandwidth: bytes that must move per call, whatever the kernel's number of
// passes: forward reads x and writes y (8 bytes per element), backward reads
// dy and x and writes dx (12 bytes per element); the per-channel vectors are
// negligible. Reported as bytes_per_second (bench/harness.h).
//
// Check: before timing, every output (y, mean, rstd, the running statistics;
// dx, dgamma, dbeta) is compared with the formulas above evaluated in float64
// from the same float32 inputs (the backward reference takes the same float32
// mean and rstd the kernel is given), to rtol 1e-4 of the magnitude of each
// value's terms (bench/check.h). Outputs are filled with NaN first.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/check.h"
#include "bench/harness.h"
#include "bench/tensor_access.h"
#include "core/backend.h"
#include "core/rng.h"

namespace {

using namespace mpq;
using namespace mpq::bench;

constexpr std::int64_t kBatch = 128;
constexpr double kMomentum = 0.1, kEps = 1e-5, kRtol = 1e-4;

// [128, C, H, H]: the activations of ResNet-20's three stages.
struct BnShape {
  std::int64_t C, H;
};
constexpr BnShape kShapes[] = {{16, 32}, {32, 16}, {64, 8}};

// Inputs, parameters and preallocated outputs of both passes.
struct BnCase : CheckedCase {
  Tensor x, dy, gamma, beta, running_mean, running_var;
  Tensor y, mean, rstd;      // forward outputs (mean, rstd: backward inputs)
  Tensor dx, dgamma, dbeta;  // backward outputs
};

void run_forward(const BnCase& k) {
  backend(Device::cpu())
      .batch_norm_forward(k.x, k.gamma, k.beta, k.running_mean, k.running_var, /*training=*/true,
                          kMomentum, kEps, k.y, k.mean, k.rstd, Tensor(), 0);
}

void run_backward(const BnCase& k) {
  backend(Device::cpu())
      .batch_norm_backward(k.dy, k.x, k.gamma, k.mean, k.rstd, /*training=*/true, k.dx, k.dgamma,
                           k.dbeta, Tensor(), 0);
}

// Per-channel statistics in float64, two passes (no cancellation).
struct Stats {
  std::vector<double> mu, var;
};
Stats reference_stats(const Tensor& x) {
  const Shape& s = x.shape();
  const Strided4 X(x);
  const double M = static_cast<double>(s[0] * s[2] * s[3]);
  Stats st{std::vector<double>(s[1], 0.0), std::vector<double>(s[1], 0.0)};
  for (std::int64_t c = 0; c < s[1]; ++c) {
    double sum = 0, ss = 0;
    for (std::int64_t n = 0; n < s[0]; ++n)
      for (std::int64_t h = 0; h < s[2]; ++h)
        for (std::int64_t w = 0; w < s[3]; ++w) sum += X(n, c, h, w);
    st.mu[c] = sum / M;
    for (std::int64_t n = 0; n < s[0]; ++n)
      for (std::int64_t h = 0; h < s[2]; ++h)
        for (std::int64_t w = 0; w < s[3]; ++w) {
          const double d = X(n, c, h, w) - st.mu[c];
          ss += d * d;
        }
    st.var[c] = ss / M;
  }
  return st;
}

// Calls f(n, c, h, w, flat) for every element, flat = logical row-major index.
template <class F>
void for_each_element(const Shape& s, F&& f) {
  std::int64_t flat = 0;
  for (std::int64_t n = 0; n < s[0]; ++n)
    for (std::int64_t c = 0; c < s[1]; ++c)
      for (std::int64_t h = 0; h < s[2]; ++h)
        for (std::int64_t w = 0; w < s[3]; ++w) f(n, c, h, w, flat++);
}

// Compares the forward outputs (after exactly one forward call from fresh
// running statistics 0 and 1) with the float64 formulas.
std::string check_forward(const BnCase& k) {
  const Shape& s = k.x.shape();
  const std::int64_t C = s[1];
  const double M = static_cast<double>(s[0] * s[2] * s[3]);
  const Stats st = reference_stats(k.x);
  const auto gamma = k.gamma.to_vector<double>(), beta = k.beta.to_vector<double>();
  const auto mean = k.mean.to_vector<double>(), rstd = k.rstd.to_vector<double>();
  const auto rm = k.running_mean.to_vector<double>(), rv = k.running_var.to_vector<double>();
  const Strided4 X(k.x), Y(k.y);

  Comparison c_stats("batch_norm forward mean/rstd/running statistics", kRtol);
  std::vector<double> r(C), abs_mean(C, 0.0);
  for_each_element(
      s, [&](auto n, auto c, auto h, auto w, auto) { abs_mean[c] += std::abs(X(n, c, h, w)) / M; });
  for (std::int64_t c = 0; c < C; ++c) {
    r[c] = 1.0 / std::sqrt(st.var[c] + kEps);
    // mean is a sum of M terms x / M; rstd, running_var: single values.
    c_stats.add(c, mean[c], st.mu[c], abs_mean[c]);
    c_stats.add(C + c, rstd[c], r[c], r[c]);
    c_stats.add(2 * C + c, rm[c], kMomentum * st.mu[c], kMomentum * abs_mean[c]);
    const double rv_ref = (1 - kMomentum) * 1.0 + kMomentum * st.var[c] * M / (M - 1);
    c_stats.add(3 * C + c, rv[c], rv_ref, rv_ref);
  }
  if (!c_stats.ok()) return c_stats.message();

  // y = gamma r (x - mu) + beta; its terms: gamma r x, gamma r mu, beta.
  Comparison c_y("batch_norm forward y", kRtol);
  for_each_element(s, [&](auto n, auto c, auto h, auto w, auto flat) {
    const double x = X(n, c, h, w), a = gamma[c] * r[c];
    c_y.add(flat, Y(n, c, h, w), a * (x - st.mu[c]) + beta[c],
            std::abs(a * x) + std::abs(a * st.mu[c]) + std::abs(beta[c]));
  });
  return c_y.message();
}

// Compares dx, dgamma, dbeta with the float64 formulas, taking mu and r from
// the float32 mean and rstd the kernel was given.
std::string check_backward(const BnCase& k) {
  const Shape& s = k.x.shape();
  const std::int64_t C = s[1];
  const double M = static_cast<double>(s[0] * s[2] * s[3]);
  const auto gamma = k.gamma.to_vector<double>(), mu = k.mean.to_vector<double>(),
             r = k.rstd.to_vector<double>();
  const auto dgamma = k.dgamma.to_vector<double>(), dbeta = k.dbeta.to_vector<double>();
  const Strided4 X(k.x), G(k.dy), DX(k.dx);

  std::vector<double> sum_g(C, 0.0), sum_gx(C, 0.0), abs_g(C, 0.0), abs_gx(C, 0.0);
  for_each_element(s, [&](auto n, auto c, auto h, auto w, auto) {
    const double g = G(n, c, h, w), xhat = (X(n, c, h, w) - mu[c]) * r[c];
    sum_g[c] += g;
    sum_gx[c] += g * xhat;
    abs_g[c] += std::abs(g);
    abs_gx[c] += std::abs(g * xhat);
  });
  Comparison c_params("batch_norm backward dgamma/dbeta", kRtol);
  for (std::int64_t c = 0; c < C; ++c) {
    c_params.add(c, dgamma[c], sum_gx[c], abs_gx[c]);
    c_params.add(C + c, dbeta[c], sum_g[c], abs_g[c]);
  }
  if (!c_params.ok()) return c_params.message();

  Comparison c_dx("batch_norm backward dx", kRtol);
  for_each_element(s, [&](auto n, auto c, auto h, auto w, auto flat) {
    const double g = G(n, c, h, w), xhat = (X(n, c, h, w) - mu[c]) * r[c];
    const double a = gamma[c] * r[c];
    const double t1 = a * g, t2 = -a * sum_g[c] / M, t3 = -a * xhat * sum_gx[c] / M;
    c_dx.add(flat, DX(n, c, h, w), t1 + t2 + t3, std::abs(t1) + std::abs(t2) + std::abs(t3));
  });
  return c_dx.message();
}

BnCase make_case(const BnShape& shape, Layout layout, bool backward) {
  Generator gen(0xb4);
  BnCase k;
  const Shape s{kBatch, shape.C, shape.H, shape.H};
  // A non-zero mean and non-unit scale, so that a kernel that skipped the
  // centring or the scaling fails.
  k.x = randn_in(s, layout, 0.5, 2.0, gen);
  // dL/dy with a non-zero mean and a component along x, so that both dx
  // correction terms (dbeta / M and xhat dgamma / M) are large enough to check.
  k.dy = randn_in(s, layout, 0.3, 1.0, gen);
  {
    // x and dy are dense in the same layout: equal flat offsets, equal elements.
    float* g = k.dy.data<float>();
    const float* x = k.x.data<float>();
    for (std::int64_t i = 0; i < k.x.numel(); ++i) g[i] += 0.25f * x[i];
  }
  k.gamma = rand_uniform({shape.C}, 0.5, 1.5, gen);
  k.beta = randn({shape.C}, 0, 0.5, gen);
  k.running_mean = zeros({shape.C});
  k.running_var = ones({shape.C});
  k.y = empty_in(s, layout);
  k.mean = empty({shape.C});
  k.rstd = empty({shape.C});
  k.dx = empty_in(s, layout);
  k.dgamma = empty({shape.C});
  k.dbeta = empty({shape.C});
  for (Tensor* t : {&k.y, &k.mean, &k.rstd, &k.dx, &k.dgamma, &k.dbeta}) t->fill_(NAN);

  if (!backward) {
    run_forward(k);
    k.check_error = check_forward(k);
    return k;
  }
  // The backward's inputs mean and rstd: the float64 statistics rounded to
  // float32, independent of the forward kernel.
  const Stats st = reference_stats(k.x);
  float* pm = k.mean.data<float>();
  float* pr = k.rstd.data<float>();
  for (std::int64_t c = 0; c < shape.C; ++c) {
    pm[c] = static_cast<float>(st.mu[c]);
    pr[c] = static_cast<float>(1.0 / std::sqrt(st.var[c] + kEps));
  }
  run_backward(k);
  k.check_error = check_backward(k);
  return k;
}

void bm_batch_norm(benchmark::State& state, const std::string& name, const BnShape& shape,
                   Layout layout, bool backward) {
  BnCase* k = prepare<BnCase>(state, name, [&] { return make_case(shape, layout, backward); });
  if (!k) return;
  const Timing t = backward ? timed_loop(state, name, [&] { run_backward(*k); })
                            : timed_loop(state, name, [&] { run_forward(*k); });
  set_byte_counters(state, t, static_cast<double>((backward ? 12 : 8) * k->x.numel()));
}

const bool registered = [] {
  for (bool backward : {false, true})
    for (const BnShape& shape : kShapes)
      for (Layout layout : {Layout::nchw, Layout::nhwc}) {
        const std::string name = std::string(backward ? "batch_norm_bwd" : "batch_norm_fwd") +
                                 "/N" + std::to_string(kBatch) + "_C" + std::to_string(shape.C) +
                                 "_H" + std::to_string(shape.H) + "_" + layout_name(layout);
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
          bm_batch_norm(state, name, shape, layout, backward);
        })->Unit(benchmark::kMicrosecond);
      }
  return true;
}();

}  // namespace
