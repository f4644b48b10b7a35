// Matrix products: mpq's matmul kernel (ops/cpu/matmul.cpp, oneDNN's matmul
// primitive behind mpq's tensors) and, as the yardstick, oneDNN's plain sgemm.
//
//   matmul/M128_K64_N10     ResNet-20's classifier: logits[128,10] = x[128,64] W[10,64]^T,
//                           W^T passed as a transposed view (strides [1, 64]), as linear() does
//   matmul/M512_K512_N512, matmul/M1024_K1024_N1024   square products, contiguous operands
//   sgemm_peak/2048         dnnl_sgemm at M = N = K = 2048, row-major, no transposes: the
//                           machine's measured single-precision peak, the ceiling the
//                           other GFLOP/s figures are read against
//
// C[M,N] = A[M,K] B[K,N] makes M N K multiply-adds: flops = 2 M N K.
//
// Check: before timing, one call's C is compared with float64 dot products of
// the same inputs, every element when C has at most 4096, otherwise 256 (the
// first, the last and 254 random ones), to rtol 1e-4 of sum_k |A[m,k] B[k,n]|
// (bench/check.h). C is filled with NaN first.
#include <benchmark/benchmark.h>

#include <oneapi/dnnl/dnnl.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/check.h"
#include "bench/harness.h"
#include "core/backend.h"
#include "core/rng.h"

namespace {

using namespace mpq;
using namespace mpq::bench;

constexpr double kRtol = 1e-4;
constexpr std::int64_t kCheckAllUpTo = 4096;
constexpr int kSamples = 256;

struct MatmulCase : CheckedCase {
  Tensor a, b, c;  // a [M,K], b [K,N] (any strides), c [M,N] contiguous
};

// Element (i, j) of a 2-D float32 tensor through its strides.
double at(const Tensor& t, std::int64_t i, std::int64_t j) {
  return t.data<float>()[i * t.strides()[0] + j * t.strides()[1]];
}

// Compares c with sum_k a[m,k] b[k,n] in float64 on all or sampled elements.
std::string check_product(const MatmulCase& k, const std::string& what, Generator& gen) {
  const std::int64_t M = k.a.size(0), K = k.a.size(1), N = k.b.size(1);
  std::vector<std::int64_t> flat;
  if (M * N <= kCheckAllUpTo) {
    for (std::int64_t i = 0; i < M * N; ++i) flat.push_back(i);
  } else {
    flat = {0, M * N - 1};
    while (static_cast<int>(flat.size()) < kSamples)
      flat.push_back(static_cast<std::int64_t>(gen.below(static_cast<std::uint64_t>(M * N))));
  }
  Comparison cmp(what + " C", kRtol);
  for (const std::int64_t f : flat) {
    const std::int64_t m = f / N, n = f % N;
    double sum = 0, magnitude = 0;
    for (std::int64_t kk = 0; kk < K; ++kk) {
      const double t = at(k.a, m, kk) * at(k.b, kk, n);
      sum += t;
      magnitude += std::abs(t);
    }
    cmp.add(f, at(k.c, m, n), sum, magnitude);
  }
  return cmp.message();
}

// C = A B with oneDNN's sgemm on contiguous row-major float32 matrices.
void sgemm(const MatmulCase& k) {
  const dnnl_dim_t M = k.a.size(0), K = k.a.size(1), N = k.b.size(1);
  const dnnl_status_t st = dnnl_sgemm('N', 'N', M, N, K, 1.0f, k.a.data<float>(), K,
                                      k.b.data<float>(), N, 0.0f, k.c.data<float>(), N);
  MPQ_CHECK(st == dnnl_success, "dnnl_sgemm failed with status ", static_cast<int>(st));
}

// Operands for C[M,N] = A[M,K] B[K,N]; with `fc`, B is the transposed view of
// a [N, K] weight (the layout of a fully connected layer's weight).
MatmulCase make_operands(std::int64_t M, std::int64_t K, std::int64_t N, bool fc, Generator& gen) {
  MatmulCase k;
  k.a = randn({M, K}, 0, 1, gen);
  k.b = fc ? randn({N, K}, 0, 1.0 / std::sqrt(static_cast<double>(K)), gen).t()
           : randn({K, N}, 0, 1.0 / std::sqrt(static_cast<double>(K)), gen);
  k.c = empty({M, N});
  k.c.fill_(NAN);
  return k;
}

void bm_matmul(benchmark::State& state, const std::string& name, std::int64_t M, std::int64_t K,
               std::int64_t N, bool fc) {
  MatmulCase* k = prepare<MatmulCase>(state, name, [&] {
    Generator gen(0x3a7);
    MatmulCase c = make_operands(M, K, N, fc, gen);
    backend(Device::cpu()).matmul(c.a, c.b, c.c);
    c.check_error = check_product(c, "matmul", gen);
    return c;
  });
  if (!k) return;
  const Timing t =
      timed_loop(state, name, [&] { backend(Device::cpu()).matmul(k->a, k->b, k->c); });
  set_flop_counters(state, t,
                    2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K));
}

void bm_sgemm_peak(benchmark::State& state, const std::string& name, std::int64_t size) {
  MatmulCase* k = prepare<MatmulCase>(state, name, [&] {
    Generator gen(0x3a8);
    MatmulCase c = make_operands(size, size, size, false, gen);
    sgemm(c);
    c.check_error = check_product(c, "dnnl_sgemm", gen);
    return c;
  });
  if (!k) return;
  const Timing t = timed_loop(state, name, [&] { sgemm(*k); });
  const double n = static_cast<double>(size);
  set_flop_counters(state, t, 2.0 * n * n * n);
}

const bool registered = [] {
  struct Size {
    std::int64_t M, K, N;
    bool fc;
  };
  for (const Size s :
       {Size{128, 64, 10, true}, Size{512, 512, 512, false}, Size{1024, 1024, 1024, false}}) {
    const std::string name =
        "matmul/M" + std::to_string(s.M) + "_K" + std::to_string(s.K) + "_N" + std::to_string(s.N);
    benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
      bm_matmul(state, name, s.M, s.K, s.N, s.fc);
    })->Unit(benchmark::kMicrosecond);
  }
  const std::string peak = "sgemm_peak/2048";
  benchmark::RegisterBenchmark(peak.c_str(), [=](benchmark::State& state) {
    bm_sgemm_peak(state, peak, 2048);
  })->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
