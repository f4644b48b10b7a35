#include "ops/batch_norm.h"

#include "core/autograd.h"
#include "core/backend.h"
#include "core/layout.h"

#include <algorithm>
#include <vector>

namespace mpq {

namespace {

// The whole batch's statistics (synchronised batch norm): float64 [2, C] of
// mu and the biased var, from every process's shifted sums; *count gets M.
Tensor synchronised_statistics(const Tensor& x, const Tensor& running_mean,
                               const BatchNormSync& sync, double* count) {
  const std::int64_t C = x.shape()[1];
  const Tensor shift =
      running_mean.defined() ? running_mean.detach() : zeros({C}, x.dtype(), x.device());
  Tensor sums = empty({3, C}, DType::f64, x.device());
  MPQ_KERNEL(x.device(), batch_norm_stats)(x, shift, sums);
  sync(sums);
  const std::vector<double> s = sums.to_vector<double>();
  const std::vector<double> k = shift.to(DType::f64).to_vector<double>();
  const double M = s[static_cast<std::size_t>(2 * C)];
  MPQ_CHECK(M > 1,
            "batch_norm2d: synchronised training needs more than one value per channel, got ", M,
            " over every process");
  std::vector<double> stats(static_cast<std::size_t>(2 * C));
  for (std::size_t c = 0; c < static_cast<std::size_t>(C); ++c) {
    const double m1 = s[c] / M;
    stats[c] = k[c] + m1;
    stats[static_cast<std::size_t>(C) + c] =
        std::max(0.0, s[static_cast<std::size_t>(C) + c] / M - m1 * m1);
  }
  *count = M;
  return from_vector(stats, {2, C}).to(x.device());
}

}  // namespace

Tensor batch_norm2d(const Tensor& x_in, const Tensor& gamma, const Tensor& beta,
                    const Tensor& running_mean, const Tensor& running_var, bool training,
                    double momentum, double eps, const BatchNormSync& sync_in) {
  check_same_device("batch_norm2d", {&x_in, &gamma, &beta, &running_mean, &running_var});
  MPQ_CHECK(x_in.dim() == 4, "batch_norm2d: expected input [N, C, H, W], got ",
            shape_str(x_in.shape()));
  MPQ_CHECK(is_floating(x_in.dtype()), "batch_norm2d: expected a floating input, got ",
            dtype_name(x_in.dtype()));
  const std::int64_t C = x_in.shape()[1];
  for (const Tensor* t : {&gamma, &beta, &running_mean, &running_var}) {
    if (!t->defined()) continue;
    MPQ_CHECK(t->shape() == Shape{C} && t->dtype() == x_in.dtype(),
              "batch_norm2d: per-channel tensor ", shape_str(t->shape()), " ",
              dtype_name(t->dtype()), " for input ", shape_str(x_in.shape()), " ",
              dtype_name(x_in.dtype()), " (expected [", C, "])");
    MPQ_CHECK(t->is_contiguous(), "batch_norm2d: per-channel tensors must be contiguous");
  }
  MPQ_CHECK(training || (running_mean.defined() && running_var.defined()),
            "batch_norm2d: inference needs running_mean and running_var");
  MPQ_CHECK(C > 0, "batch_norm2d: input ", shape_str(x_in.shape()), " has no channels");
  const BatchNormSync sync = training ? sync_in : BatchNormSync{};
  MPQ_CHECK(!training || sync || x_in.numel() / C > 1,
            "batch_norm2d: training needs more than one value per channel, got input ",
            shape_str(x_in.shape()));
  // Channels-last activations (from conv2d) keep their layout: the NHWC kernel
  // runs when x is channels-last, and y, dy, dx are then channels-last too
  // (the same test as the kernel's, so allocation and kernel always agree).
  // Backends without channels-last kernels take contiguous NCHW.
  const bool nhwc = is_channels_last(x_in) && backend(x_in.device()).channels_last;
  const Tensor x = nhwc ? x_in.detach() : x_in.detach().contiguous();
  auto like_x = [nhwc, x] {  // by value: the backward keeps a copy
    return nhwc ? empty_channels_last(x.shape(), x.dtype(), x.device())
                : empty(x.shape(), x.dtype(), x.device());
  };
  Tensor y = like_x();
  Tensor mean = empty({C}, x.dtype(), x.device()), rstd = empty({C}, x.dtype(), x.device());
  double count = 0;  // synchronised: the whole batch's values per channel
  {
    NoGradGuard ng;
    const Tensor batch_stats =
        sync ? synchronised_statistics(x, running_mean, sync, &count) : Tensor();
    MPQ_KERNEL(x.device(), batch_norm_forward)
    (x, gamma, beta, running_mean, running_var, training, momentum, eps, y, mean, rstd, batch_stats,
     count);
  }
  if (!any_requires_grad({&x_in, &gamma, &beta})) return y;
  const bool need_x = x_in.requires_grad();
  const bool need_gb =
      (gamma.defined() && gamma.requires_grad()) || (beta.defined() && beta.requires_grad());
  const Tensor gd = gamma.defined() ? gamma.detach() : Tensor();
  const bool has_gamma = gamma.defined(), has_beta = beta.defined();
  return record("batch_norm2d", y, {&x_in, &gamma, &beta}, [=](const Tensor& gy) {
    const Tensor g = nhwc ? to_channels_last(gy) : gy.contiguous();
    Tensor dx = need_x ? like_x() : Tensor();
    Tensor dgamma = need_gb && has_gamma ? empty({C}, x.dtype(), x.device()) : Tensor();
    Tensor dbeta = need_gb && has_beta ? empty({C}, x.dtype(), x.device()) : Tensor();
    if (!sync) {
      MPQ_KERNEL(x.device(), batch_norm_backward)
      (g, x, gd, mean, rstd, training, dx, dgamma, dbeta, Tensor(), 0);
      return std::vector<Tensor>{dx, dgamma, dbeta};
    }
    // This slice's sum g and sum g xhat (its dbeta and dgamma), then dx from
    // every process's totals.
    Tensor sums = empty({2, C}, DType::f64, x.device());
    MPQ_KERNEL(x.device(), batch_norm_backward_stats)(g, x, mean, rstd, sums);
    if (dbeta.defined()) dbeta.copy_(sums.narrow(0, 0, 1).reshape({C}).to(x.dtype()));
    if (dgamma.defined()) dgamma.copy_(sums.narrow(0, 1, 1).reshape({C}).to(x.dtype()));
    sync(sums);
    if (dx.defined()) MPQ_KERNEL(x.device(), batch_norm_backward)
    (g, x, gd, mean, rstd, true, dx, Tensor(), Tensor(), sums, count);
    return std::vector<Tensor>{dx, dgamma, dbeta};
  });
}

}  // namespace mpq
