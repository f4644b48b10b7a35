#include "train/sgd.h"

#include "core/parallel.h"

namespace mpq::train {

Sgd::Sgd(std::vector<Tensor> params, SgdOptions options)
    : params_(std::move(params)), velocity_(params_.size()), options_(options) {
  MPQ_CHECK(options.lr >= 0, "Sgd: negative learning rate ", options.lr);
  MPQ_CHECK(options.momentum >= 0 && options.momentum < 1, "Sgd: momentum ", options.momentum,
            " outside [0, 1)");
  MPQ_CHECK(!options.nesterov || options.momentum > 0, "Sgd: Nesterov needs a positive momentum");
  for (const Tensor& p : params_) {
    MPQ_CHECK(p.is_leaf() && p.requires_grad() && p.is_contiguous(),
              "Sgd: parameters must be contiguous leaf tensors with requires_grad");
  }
}

void Sgd::zero_grad() {
  for (const Tensor& p : params_) p.zero_grad();
}

void Sgd::step() {
  const double lr = options_.lr, mom = options_.momentum, wd = options_.weight_decay;
  const bool nesterov = options_.nesterov;
  for (std::size_t k = 0; k < params_.size(); ++k) {
    const Tensor& p = params_[k];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    const bool first = mom > 0 && !velocity_[k].defined();
    if (first) velocity_[k] = zeros_like(p);
    dispatch_floating(p.dtype(), "Sgd::step", [&]<class T>() {
      T* pp = p.data<T>();
      const T* pg = g.data<T>();
      T* pv = mom > 0 ? velocity_[k].data<T>() : nullptr;
      const T tlr = static_cast<T>(lr), tm = static_cast<T>(mom), twd = static_cast<T>(wd);
      parallel_for(0, p.numel(), 16384, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) {
          T d = pg[i] + twd * pp[i];
          if (pv) {
            pv[i] = first ? d : tm * pv[i] + d;
            d = nesterov ? d + tm * pv[i] : pv[i];
          }
          pp[i] -= tlr * d;
        }
      });
    });
  }
}

}  // namespace mpq::train
