// CPU kernels of batch_norm2d: contiguous NCHW (threaded over channels) or
// channels-last NHWC (threaded over rows, deterministic block sums); y, dy and
// dx share x's layout.
// One template serves float32 and float64; sums accumulate in double.
#include "core/backend.h"
#include "core/tensor.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>
#include <vector>

#include "core/layout.h"
#include "core/parallel.h"

namespace mpq::cpu {

namespace {

// ---- channels-last (NHWC) kernels -----------------------------------------
// x is M = N H W rows of C contiguous channel values. Per-channel sums are
// taken over fixed blocks of kRows rows, each block's partial in double, and
// the partials are added in block order: the result does not depend on the
// thread count. The loops over c are unit-stride and vectorise.
constexpr std::int64_t kRows = 128;

// partial[b] = sum over block b's rows of (f1(row), f2(row)) per channel.
template <class RowFn>
std::vector<double>& channel_block_sums(std::int64_t M, std::int64_t C, RowFn&& row_fn) {
  // Reused between calls (no allocation per step). The workers must use the
  // calling thread's buffer, not their own thread_local: hence the pointer.
  thread_local std::vector<double> buffer;
  std::vector<double>& partial = buffer;
  const std::int64_t blocks = (M + kRows - 1) / kRows;
  partial.assign(static_cast<std::size_t>(blocks * 2 * C), 0.0);
  double* base = partial.data();
  parallel_for(0, blocks, 1, [&](std::int64_t bb, std::int64_t be) {
    for (std::int64_t blk = bb; blk < be; ++blk) {
      double* s1 = base + blk * 2 * C;
      double* s2 = s1 + C;
      const std::int64_t r1 = std::min(M, (blk + 1) * kRows);
      for (std::int64_t r = blk * kRows; r < r1; ++r) row_fn(r, s1, s2);
    }
  });
  return partial;
}

// Totals over blocks, in block order, into t1[c], t2[c].
void add_blocks(const std::vector<double>& partial, std::int64_t C, std::vector<double>& t1,
                std::vector<double>& t2) {
  t1.assign(static_cast<std::size_t>(C), 0.0);
  t2.assign(static_cast<std::size_t>(C), 0.0);
  const std::size_t blocks = partial.size() / static_cast<std::size_t>(2 * C);
  for (std::size_t b = 0; b < blocks; ++b)
    for (std::int64_t c = 0; c < C; ++c) {
      t1[c] += partial[b * 2 * C + c];
      t2[c] += partial[b * 2 * C + C + c];
    }
}

// Per channel, sum (x - shift[c]) and sum (x - shift[c])^2 over every value
// of x, in either layout (channels-last: deterministic block sums).
template <class T>
void shifted_sums(const Tensor& x, const T* shift, std::vector<double>& t1,
                  std::vector<double>& t2) {
  const std::int64_t N = x.shape()[0], C = x.shape()[1], HW = x.shape()[2] * x.shape()[3];
  const T* px = x.data<T>();
  if (is_channels_last(x)) {
    auto& partial = channel_block_sums(N * HW, C, [&](std::int64_t r, double* s1, double* s2) {
      const T* row = px + r * C;
      for (std::int64_t c = 0; c < C; ++c) {
        const double d = static_cast<double>(row[c]) - static_cast<double>(shift[c]);
        s1[c] += d;
        s2[c] += d * d;
      }
    });
    add_blocks(partial, C, t1, t2);
    return;
  }
  t1.assign(static_cast<std::size_t>(C), 0.0);
  t2.assign(static_cast<std::size_t>(C), 0.0);
  parallel_for(0, C, 0, [&](std::int64_t cb, std::int64_t ce) {
    for (std::int64_t c = cb; c < ce; ++c) {
      const double k = shift[c];
      double s1 = 0, s2 = 0;
      for (std::int64_t n = 0; n < N; ++n) {
        const T* row = px + (n * C + c) * HW;
        for (std::int64_t i = 0; i < HW; ++i) {
          const double d = static_cast<double>(row[i]) - k;
          s1 += d;
          s2 += d * d;
        }
      }
      t1[c] = s1;
      t2[c] = s2;
    }
  });
}

// Per channel, the backward's sum g and sum g (x - mean[c]), in either layout.
template <class T>
void gradient_sums(const Tensor& dy, const Tensor& x, const T* mean, std::vector<double>& sum_g,
                   std::vector<double>& sum_gx) {
  const std::int64_t N = x.shape()[0], C = x.shape()[1], HW = x.shape()[2] * x.shape()[3];
  const T* px = x.data<T>();
  const T* pg = dy.data<T>();
  if (is_channels_last(x)) {
    auto& partial = channel_block_sums(N * HW, C, [&](std::int64_t r, double* s1, double* s2) {
      const T* xr = px + r * C;
      const T* gr = pg + r * C;
      for (std::int64_t c = 0; c < C; ++c) {
        s1[c] += static_cast<double>(gr[c]);
        s2[c] += static_cast<double>(gr[c]) * static_cast<double>(xr[c] - mean[c]);
      }
    });
    add_blocks(partial, C, sum_g, sum_gx);
    return;
  }
  sum_g.assign(static_cast<std::size_t>(C), 0.0);
  sum_gx.assign(static_cast<std::size_t>(C), 0.0);
  parallel_for(0, C, 0, [&](std::int64_t cb, std::int64_t ce) {
    for (std::int64_t c = cb; c < ce; ++c) {
      const double mu = mean[c];
      double sg = 0, sgx = 0;
      for (std::int64_t n = 0; n < N; ++n) {
        const T* xr = px + (n * C + c) * HW;
        const T* gr = pg + (n * C + c) * HW;
        for (std::int64_t i = 0; i < HW; ++i) {
          sg += gr[i];
          sgx += gr[i] * (xr[i] - mu);
        }
      }
      sum_g[c] = sg;
      sum_gx[c] = sgx;
    }
  });
}

// What both layouts do per channel once its statistics (mu, var) are known.
template <class T>
struct PerChannel {
  const T *gamma, *beta;          // may be null
  T *running_mean, *running_var;  // may be null
  T *mean, *rstd;                 // the statistics used, for the backward pass
  double momentum, eps;
  std::int64_t M;  // values per channel

  // Training: running <- (1 - momentum) running + momentum batch, with the
  // unbiased batch variance.
  void update_running(std::int64_t c, double mu, double var) const {
    if (running_mean)
      running_mean[c] = static_cast<T>((1 - momentum) * running_mean[c] + momentum * mu);
    if (running_var && M > 1)
      running_var[c] = static_cast<T>((1 - momentum) * running_var[c] +
                                      momentum * var * static_cast<double>(M) / (M - 1));
  }
  // Records mean and 1/std; returns (scale, shift) of y = scale x + shift.
  std::pair<T, T> affine(std::int64_t c, double mu, double var) const {
    const double r = 1.0 / std::sqrt(var + eps);
    mean[c] = static_cast<T>(mu);
    rstd[c] = static_cast<T>(r);
    const double g = gamma ? gamma[c] : 1.0;
    return {static_cast<T>(g * r), static_cast<T>((beta ? beta[c] : 0.0) - mu * g * r)};
  }
};

template <class T>
void forward_nhwc(const Tensor& x, const PerChannel<T>& pc, bool training, const Tensor& y,
                  const double* given) {
  const std::int64_t C = x.shape()[1], M = x.numel() / C;
  const T* px = x.data<T>();
  T* py = y.data<T>();
  std::vector<double> mu(C), var(C);
  if (given) {  // the whole batch's (synchronised)
    for (std::int64_t c = 0; c < C; ++c) {
      mu[c] = given[c];
      var[c] = given[C + c];
      pc.update_running(c, mu[c], var[c]);
    }
  } else if (training) {
    // One pass, shifted by the first row K: var = E[(x-K)^2] - (E[x-K])^2 has
    // no cancellation problem when |mean| >> std as long as K is a sample.
    std::vector<T> K(px, px + C);
    const T* pk = K.data();
    std::vector<double> t1, t2;
    shifted_sums<T>(x, pk, t1, t2);
    for (std::int64_t c = 0; c < C; ++c) {
      const double m1 = t1[c] / static_cast<double>(M);
      mu[c] = static_cast<double>(pk[c]) + m1;
      var[c] = std::max(0.0, t2[c] / static_cast<double>(M) - m1 * m1);
      pc.update_running(c, mu[c], var[c]);
    }
  } else {
    for (std::int64_t c = 0; c < C; ++c) {
      mu[c] = pc.running_mean[c];
      var[c] = pc.running_var[c];
    }
  }
  std::vector<T> scale(C), shift(C);
  for (std::int64_t c = 0; c < C; ++c) std::tie(scale[c], shift[c]) = pc.affine(c, mu[c], var[c]);
  const T* ps = scale.data();
  const T* pt = shift.data();
  parallel_for(0, M, std::max<std::int64_t>(1, 16384 / C), [&](std::int64_t rb, std::int64_t re) {
    for (std::int64_t r = rb; r < re; ++r) {
      const T* row = px + r * C;
      T* out = py + r * C;
      for (std::int64_t c = 0; c < C; ++c) out[c] = ps[c] * row[c] + pt[c];
    }
  });
}

// sum_g and sum_gx (= sum g xhat) per channel: the given totals (synchronised
// batch norm: every process's, over `count` values) or x's own.
template <class T>
void backward_nhwc(const Tensor& dy, const Tensor& x, const T* gam, const T* pmean, const T* prstd,
                   bool training, const Tensor& dx, T* pdg, T* pdb, const double* totals,
                   double count) {
  const std::int64_t C = x.shape()[1], M = x.numel() / C;
  const T* px = x.data<T>();
  const T* pg = dy.data<T>();
  std::vector<double> sum_g, sum_gx;
  if (totals) {
    sum_g.assign(totals, totals + C);
    sum_gx.assign(totals + C, totals + 2 * C);
  } else {
    gradient_sums<T>(dy, x, pmean, sum_g, sum_gx);
    for (std::int64_t c = 0; c < C; ++c) sum_gx[c] *= static_cast<double>(prstd[c]);
  }
  const double Md = totals ? count : static_cast<double>(M);
  std::vector<T> a(C), b(C), k(C);
  for (std::int64_t c = 0; c < C; ++c) {
    const double r = prstd[c];
    if (pdg && !totals) pdg[c] = static_cast<T>(sum_gx[c]);
    if (pdb && !totals) pdb[c] = static_cast<T>(sum_g[c]);
    // dx = gamma r (g - sum_g/M - xhat sum_gx/M), xhat = (x - mu) r.
    const double gs = (gam ? gam[c] : 1.0) * r;
    a[c] = static_cast<T>(gs);
    b[c] = training ? static_cast<T>(-gs * sum_g[c] / Md) : T(0);
    k[c] = training ? static_cast<T>(-gs * r * sum_gx[c] / Md) : T(0);
  }
  if (!dx.defined()) return;
  T* pdx = dx.data<T>();
  const T *pa = a.data(), *pbb = b.data(), *pk = k.data();
  parallel_for(0, M, std::max<std::int64_t>(1, 16384 / C), [&](std::int64_t rb, std::int64_t re) {
    for (std::int64_t r = rb; r < re; ++r) {
      const T* xr = px + r * C;
      const T* gr = pg + r * C;
      T* out = pdx + r * C;
      if (training) {
        for (std::int64_t c = 0; c < C; ++c)
          out[c] = pa[c] * gr[c] + pk[c] * (xr[c] - pmean[c]) + pbb[c];
      } else {  // the statistics are constants: dx = gamma r g (x plays no part)
        for (std::int64_t c = 0; c < C; ++c) out[c] = pa[c] * gr[c];
      }
    }
  });
}

}  // namespace

void batch_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                        const Tensor& running_mean, const Tensor& running_var, bool training,
                        double momentum, double eps, const Tensor& y, const Tensor& mean,
                        const Tensor& rstd, const Tensor& batch_stats, double count) {
  const std::int64_t N = x.shape()[0], C = x.shape()[1], HW = x.shape()[2] * x.shape()[3];
  const std::int64_t M = N * HW;
  const double* given = batch_stats.defined() ? batch_stats.data<double>() : nullptr;
  // Values per channel behind the statistics (the unbiased running variance).
  const std::int64_t stats_count = given ? static_cast<std::int64_t>(count) : M;
  dispatch_floating(x.dtype(), "batch_norm2d", [&]<class T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const T* pg = gamma.defined() ? gamma.data<T>() : nullptr;
    const T* pb = beta.defined() ? beta.data<T>() : nullptr;
    T* rm = running_mean.defined() ? running_mean.data<T>() : nullptr;
    T* rv = running_var.defined() ? running_var.data<T>() : nullptr;
    const PerChannel<T> pc{pg,       pb,  rm,         rv, mean.data<T>(), rstd.data<T>(),
                           momentum, eps, stats_count};
    if (is_channels_last(x)) {
      forward_nhwc<T>(x, pc, training, y, given);
      return;
    }
    parallel_for(0, C, 0, [&](std::int64_t cb, std::int64_t ce) {
      for (std::int64_t c = cb; c < ce; ++c) {
        double mu, var;
        if (given) {  // the whole batch's (synchronised)
          mu = given[c];
          var = given[C + c];
          pc.update_running(c, mu, var);
        } else if (training) {
          double s = 0;
          for (std::int64_t n = 0; n < N; ++n) {
            const T* row = px + (n * C + c) * HW;
            for (std::int64_t i = 0; i < HW; ++i) s += row[i];
          }
          mu = s / static_cast<double>(M);
          double ss = 0;  // two-pass variance: no cancellation
          for (std::int64_t n = 0; n < N; ++n) {
            const T* row = px + (n * C + c) * HW;
            for (std::int64_t i = 0; i < HW; ++i) {
              const double d = row[i] - mu;
              ss += d * d;
            }
          }
          var = ss / static_cast<double>(M);
          pc.update_running(c, mu, var);
        } else {
          mu = rm[c];
          var = rv[c];
        }
        const auto [scale, shift] = pc.affine(c, mu, var);  // y = scale * x + shift
        for (std::int64_t n = 0; n < N; ++n) {
          const T* row = px + (n * C + c) * HW;
          T* out = py + (n * C + c) * HW;
          for (std::int64_t i = 0; i < HW; ++i) out[i] = scale * row[i] + shift;
        }
      }
    });
  });
}

void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                         const Tensor& rstd, bool training, const Tensor& dx, const Tensor& dgamma,
                         const Tensor& dbeta, const Tensor& totals_t, double count) {
  const std::int64_t N = x.shape()[0], C = x.shape()[1], HW = x.shape()[2] * x.shape()[3];
  const double* totals = totals_t.defined() ? totals_t.data<double>() : nullptr;
  const double M = totals ? count : static_cast<double>(N * HW);
  dispatch_floating(x.dtype(), "batch_norm2d backward", [&]<class T>() {
    const T* px = x.data<T>();
    const T* pg = dy.data<T>();
    const T* gam = gamma.defined() ? gamma.data<T>() : nullptr;
    const T* pmean = mean.data<T>();
    const T* prstd = rstd.data<T>();
    T* pdx = dx.defined() ? dx.data<T>() : nullptr;
    T* pdg = dgamma.defined() ? dgamma.data<T>() : nullptr;
    T* pdb = dbeta.defined() ? dbeta.data<T>() : nullptr;
    if (is_channels_last(x)) {
      backward_nhwc<T>(dy, x, gam, pmean, prstd, training, dx, pdg, pdb, totals, count);
      return;
    }
    parallel_for(0, C, 0, [&](std::int64_t cb, std::int64_t ce) {
      for (std::int64_t c = cb; c < ce; ++c) {
        const double mu = pmean[c], r = prstd[c];
        double sum_g = 0, sum_gx = 0;  // sum g, sum g * xhat
        if (totals) {
          sum_g = totals[c];
          sum_gx = totals[C + c];
        } else {
          for (std::int64_t n = 0; n < N; ++n) {
            const T* xr = px + (n * C + c) * HW;
            const T* gr = pg + (n * C + c) * HW;
            for (std::int64_t i = 0; i < HW; ++i) {
              sum_g += gr[i];
              sum_gx += gr[i] * (xr[i] - mu);
            }
          }
          sum_gx *= r;
          if (pdg) pdg[c] = static_cast<T>(sum_gx);
          if (pdb) pdb[c] = static_cast<T>(sum_g);
        }
        if (!pdx) continue;
        const double gr_scale = (gam ? gam[c] : 1.0) * r;
        for (std::int64_t n = 0; n < N; ++n) {
          const T* xr = px + (n * C + c) * HW;
          const T* gr = pg + (n * C + c) * HW;
          T* out = pdx + (n * C + c) * HW;
          if (training) {
            // dx = gamma r (g - sum_g/M - xhat sum_gx/M), xhat = (x - mu) r taken
            // from the centred input (no cancellation when |mu| >> std).
            const T a = static_cast<T>(gr_scale);
            const T b = static_cast<T>(-gr_scale * sum_g / M);
            const T k = static_cast<T>(-gr_scale * r * sum_gx / M);
            const T m = static_cast<T>(mu);
            for (std::int64_t i = 0; i < HW; ++i) out[i] = a * gr[i] + k * (xr[i] - m) + b;
          } else {
            const T a = static_cast<T>(gr_scale);
            for (std::int64_t i = 0; i < HW; ++i) out[i] = a * gr[i];
          }
        }
      }
    });
  });
}

void batch_norm_stats(const Tensor& x, const Tensor& shift, const Tensor& sums) {
  const std::int64_t C = x.shape()[1], M = x.numel() / C;
  double* out = sums.data<double>();
  dispatch_floating(x.dtype(), "batch_norm2d statistics", [&]<class T>() {
    std::vector<double> t1, t2;
    shifted_sums<T>(x, shift.data<T>(), t1, t2);
    for (std::int64_t c = 0; c < C; ++c) {
      out[c] = t1[c];
      out[C + c] = t2[c];
      out[2 * C + c] = static_cast<double>(M);
    }
  });
}

void batch_norm_backward_stats(const Tensor& dy, const Tensor& x, const Tensor& mean,
                               const Tensor& rstd, const Tensor& sums) {
  const std::int64_t C = x.shape()[1];
  double* out = sums.data<double>();
  dispatch_floating(x.dtype(), "batch_norm2d backward statistics", [&]<class T>() {
    std::vector<double> sum_g, sum_gx;  // the same sums, in the same order, as the backward's
    gradient_sums<T>(dy, x, mean.data<T>(), sum_g, sum_gx);
    const T* prstd = rstd.data<T>();
    for (std::int64_t c = 0; c < C; ++c) {
      out[c] = sum_g[c];
      out[C + c] = sum_gx[c] * static_cast<double>(prstd[c]);
    }
  });
}

namespace {
const BackendRegistration registration(DeviceType::cpu, [](Backend& b) {
  b.batch_norm_backward_stats = batch_norm_backward_stats;
  b.batch_norm_forward = batch_norm_forward;
  b.batch_norm_backward = batch_norm_backward;
  b.batch_norm_stats = batch_norm_stats;
});
}  // namespace

}  // namespace mpq::cpu
