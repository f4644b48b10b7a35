// CUDA kernels of batch_norm2d on contiguous NCHW tensors (ops/cpu/batch_norm.cpp
// is the CPU side, same formulas: two-pass statistics in double, running
// statistics with the unbiased variance). One block per channel reduces with
// a fixed stride and a fixed tree, so results repeat exactly.
#include "core/backend.h"
#include "core/cuda/check.cuh"
#include "core/tensor.h"

namespace mpq::cuda {

namespace {

constexpr int kBnThreads = 256;

// Sum over the block with a fixed tree; every thread gets the result.
__device__ double block_sum(double v, double* buf) {
  buf[threadIdx.x] = v;
  __syncthreads();
  for (int s = kBnThreads / 2; s > 0; s /= 2) {
    if (static_cast<int>(threadIdx.x) < s) buf[threadIdx.x] += buf[threadIdx.x + s];
    __syncthreads();
  }
  const double total = buf[0];
  __syncthreads();
  return total;
}

// Element j of channel c (j over N*HW) in NCHW.
__device__ __forceinline__ std::int64_t at(std::int64_t j, std::int64_t c, std::int64_t C,
                                           std::int64_t HW) {
  return ((j / HW) * C + c) * HW + j % HW;
}

// One block per channel: statistics (training) or running ones, then
// y = scale x + shift with scale = gamma rstd, shift = beta - mu gamma rstd.
template <class T>
__global__ void forward_kernel(const T* __restrict__ x, const T* __restrict__ gamma,
                               const T* __restrict__ beta, T* __restrict__ running_mean,
                               T* __restrict__ running_var, bool training, double momentum,
                               double eps, T* __restrict__ y, T* __restrict__ mean,
                               T* __restrict__ rstd, const double* __restrict__ given, double count,
                               std::int64_t C, std::int64_t HW, std::int64_t M) {
  __shared__ double buf[kBnThreads];
  const std::int64_t c = blockIdx.x;
  double mu, var;
  double n = static_cast<double>(M);  // values behind the statistics
  if (given) {                        // the whole batch's (synchronised), over `count` values
    mu = given[c];
    var = given[C + c];
    n = count;
  } else if (training) {
    double s = 0;
    for (std::int64_t j = threadIdx.x; j < M; j += kBnThreads)
      s += static_cast<double>(x[at(j, c, C, HW)]);
    mu = block_sum(s, buf) / static_cast<double>(M);
    double ss = 0;  // two-pass variance: no cancellation
    for (std::int64_t j = threadIdx.x; j < M; j += kBnThreads) {
      const double d = static_cast<double>(x[at(j, c, C, HW)]) - mu;
      ss += d * d;
    }
    var = block_sum(ss, buf) / static_cast<double>(M);
  } else {
    mu = static_cast<double>(running_mean[c]);
    var = static_cast<double>(running_var[c]);
  }
  if ((given || training) && threadIdx.x == 0) {  // running statistics, unbiased variance
    if (running_mean)
      running_mean[c] =
          static_cast<T>((1 - momentum) * static_cast<double>(running_mean[c]) + momentum * mu);
    if (running_var && n > 1)
      running_var[c] = static_cast<T>((1 - momentum) * static_cast<double>(running_var[c]) +
                                      momentum * var * n / (n - 1));
  }
  const double r = 1.0 / sqrt(var + eps);
  if (threadIdx.x == 0) {
    mean[c] = static_cast<T>(mu);
    rstd[c] = static_cast<T>(r);
  }
  const double g = gamma ? static_cast<double>(gamma[c]) : 1.0;
  const T scale = static_cast<T>(g * r);
  const T shift = static_cast<T>((beta ? static_cast<double>(beta[c]) : 0.0) - mu * g * r);
  for (std::int64_t j = threadIdx.x; j < M; j += kBnThreads) {
    const std::int64_t i = at(j, c, C, HW);
    y[i] = scale * x[i] + shift;
  }
}

// Thread's share of channel c's sum g and sum g (x - mu), added over the
// block (every thread gets both).
template <class T>
__device__ void gradient_sums(const T* __restrict__ dy, const T* __restrict__ x, double mu,
                              std::int64_t c, std::int64_t C, std::int64_t HW, std::int64_t M,
                              double* buf, double& sum_g, double& sum_gx) {
  double sg = 0, sgx = 0;
  for (std::int64_t j = threadIdx.x; j < M; j += kBnThreads) {
    const std::int64_t i = at(j, c, C, HW);
    const double g = static_cast<double>(dy[i]);
    sg += g;
    sgx += g * (static_cast<double>(x[i]) - mu);
  }
  sum_g = block_sum(sg, buf);
  sum_gx = block_sum(sgx, buf);
}

template <class T>
__global__ void backward_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                const T* __restrict__ gamma, const T* __restrict__ mean,
                                const T* __restrict__ rstd, bool training, T* __restrict__ dx,
                                T* __restrict__ dgamma, T* __restrict__ dbeta,
                                const double* __restrict__ totals, double count, std::int64_t C,
                                std::int64_t HW, std::int64_t M) {
  __shared__ double buf[kBnThreads];
  const std::int64_t c = blockIdx.x;
  const double mu = static_cast<double>(mean[c]), r = static_cast<double>(rstd[c]);
  double sum_g, sum_gx;  // sum g, sum g xhat: the given totals (synchronised) or x's own
  if (totals) {
    sum_g = totals[c];
    sum_gx = totals[C + c];
  } else {
    gradient_sums(dy, x, mu, c, C, HW, M, buf, sum_g, sum_gx);
    sum_gx *= r;
    if (threadIdx.x == 0) {
      if (dgamma) dgamma[c] = static_cast<T>(sum_gx);
      if (dbeta) dbeta[c] = static_cast<T>(sum_g);
    }
  }
  if (!dx) return;
  const double gr_scale = (gamma ? static_cast<double>(gamma[c]) : 1.0) * r;
  const double Md = totals ? count : static_cast<double>(M);
  const T a = static_cast<T>(gr_scale);
  const T b = training ? static_cast<T>(-gr_scale * sum_g / Md) : T(0);
  const T k = training ? static_cast<T>(-gr_scale * r * sum_gx / Md) : T(0);
  const T m = static_cast<T>(mu);
  for (std::int64_t j = threadIdx.x; j < M; j += kBnThreads) {
    const std::int64_t i = at(j, c, C, HW);
    dx[i] = training ? a * dy[i] + k * (x[i] - m) + b : a * dy[i];
  }
}

// One block per channel: sum g and sum g xhat into sums[0][c], sums[1][c].
template <class T>
__global__ void backward_stats_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                      const T* __restrict__ mean, const T* __restrict__ rstd,
                                      double* __restrict__ sums, std::int64_t C, std::int64_t HW,
                                      std::int64_t M) {
  __shared__ double buf[kBnThreads];
  const std::int64_t c = blockIdx.x;
  double t1, t2;
  gradient_sums(dy, x, static_cast<double>(mean[c]), c, C, HW, M, buf, t1, t2);
  if (threadIdx.x == 0) {
    sums[c] = t1;
    sums[C + c] = t2 * static_cast<double>(rstd[c]);
  }
}

// One block per channel: sum (x - shift), sum (x - shift)^2 and the count,
// into sums[0][c], sums[1][c], sums[2][c] (float64 [3, C]).
template <class T>
__global__ void stats_kernel(const T* __restrict__ x, const T* __restrict__ shift,
                             double* __restrict__ sums, std::int64_t C, std::int64_t HW,
                             std::int64_t M) {
  __shared__ double buf[kBnThreads];
  const std::int64_t c = blockIdx.x;
  const double k = static_cast<double>(shift[c]);
  double s1 = 0, s2 = 0;
  for (std::int64_t j = threadIdx.x; j < M; j += kBnThreads) {
    const double d = static_cast<double>(x[at(j, c, C, HW)]) - k;
    s1 += d;
    s2 += d * d;
  }
  const double t1 = block_sum(s1, buf), t2 = block_sum(s2, buf);
  if (threadIdx.x == 0) {
    sums[c] = t1;
    sums[C + c] = t2;
    sums[2 * C + c] = static_cast<double>(M);
  }
}

template <class T>
const T* cptr(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.device_data()) : nullptr;
}
template <class T>
T* mptr(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.device_data()) : nullptr;
}

}  // namespace

void batch_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                        const Tensor& running_mean, const Tensor& running_var, bool training,
                        double momentum, double eps, const Tensor& y, const Tensor& mean,
                        const Tensor& rstd, const Tensor& batch_stats, double count) {
  const std::int64_t C = x.shape()[1], HW = x.shape()[2] * x.shape()[3], M = x.numel() / C;
  if (C == 0) return;
  dispatch_floating(x.dtype(), "batch_norm2d", [&]<class T>() {
    forward_kernel<T><<<static_cast<unsigned>(C), kBnThreads, 0, stream(x.device())>>>(
        cptr<T>(x), cptr<T>(gamma), cptr<T>(beta), mptr<T>(running_mean), mptr<T>(running_var),
        training, momentum, eps, mptr<T>(y), mptr<T>(mean), mptr<T>(rstd),
        cptr<double>(batch_stats), count, C, HW, M);
  });
  check_launch("batch_norm_forward");
}

void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                         const Tensor& rstd, bool training, const Tensor& dx, const Tensor& dgamma,
                         const Tensor& dbeta, const Tensor& totals, double count) {
  const std::int64_t C = x.shape()[1], HW = x.shape()[2] * x.shape()[3], M = x.numel() / C;
  if (C == 0) return;
  dispatch_floating(x.dtype(), "batch_norm2d backward", [&]<class T>() {
    backward_kernel<T><<<static_cast<unsigned>(C), kBnThreads, 0, stream(x.device())>>>(
        cptr<T>(dy), cptr<T>(x), cptr<T>(gamma), cptr<T>(mean), cptr<T>(rstd), training,
        mptr<T>(dx), mptr<T>(dgamma), mptr<T>(dbeta), cptr<double>(totals), count, C, HW, M);
  });
  check_launch("batch_norm_backward");
}

void batch_norm_backward_stats(const Tensor& dy, const Tensor& x, const Tensor& mean,
                               const Tensor& rstd, const Tensor& sums) {
  const std::int64_t C = x.shape()[1], HW = x.shape()[2] * x.shape()[3], M = x.numel() / C;
  if (C == 0) return;
  dispatch_floating(x.dtype(), "batch_norm2d backward statistics", [&]<class T>() {
    backward_stats_kernel<T><<<static_cast<unsigned>(C), kBnThreads, 0, stream(x.device())>>>(
        cptr<T>(dy), cptr<T>(x), cptr<T>(mean), cptr<T>(rstd), mptr<double>(sums), C, HW, M);
  });
  check_launch("batch_norm_backward_stats");
}

void batch_norm_stats(const Tensor& x, const Tensor& shift, const Tensor& sums) {
  const std::int64_t C = x.shape()[1], HW = x.shape()[2] * x.shape()[3], M = x.numel() / C;
  if (C == 0) return;
  dispatch_floating(x.dtype(), "batch_norm2d statistics", [&]<class T>() {
    stats_kernel<T><<<static_cast<unsigned>(C), kBnThreads, 0, stream(x.device())>>>(
        cptr<T>(x), cptr<T>(shift), mptr<double>(sums), C, HW, M);
  });
  check_launch("batch_norm_stats");
}

namespace {
const BackendRegistration registration(DeviceType::cuda, [](Backend& b) {
  b.batch_norm_forward = batch_norm_forward;
  b.batch_norm_backward = batch_norm_backward;
  b.batch_norm_stats = batch_norm_stats;
  b.batch_norm_backward_stats = batch_norm_backward_stats;
});
}  // namespace

}  // namespace mpq::cuda
