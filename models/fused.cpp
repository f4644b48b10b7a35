#include "models/fused.h"

#include <atomic>

#include "core/autograd.h"
#include "ops/conv2d.h"
#include "ops/elementwise.h"

namespace mpq::models {

namespace {
std::atomic<std::uint64_t> g_folded_calls{0};
}  // namespace

std::uint64_t conv_bn_act_folded_calls() {
  return g_folded_calls.load();
}

Tensor conv_bn_act(Conv2d& conv, BatchNorm2d& bn, ActQuant* act, const Tensor& x,
                   const Tensor& residual) {
  if (bn.is_training() || grad_mode_enabled() || x.dtype() != DType::f32) {
    Tensor h = bn.forward(conv.forward(x));
    if (residual.defined()) h = add(h, residual);
    return act ? act->forward(h) : h;
  }
  ++g_folded_calls;
  const auto [scale, shift] = bn.inference_affine();
  const bool fuse_relu = act && act->is_relu();
  Tensor h = conv2d_affine(x, conv.effective_weight(), conv.effective_bias(), scale, shift,
                           conv.params, fuse_relu, residual);
  if (act && !fuse_relu) return act->forward(h);
  if (act)  // what act->forward would record
    act->per_sample = h.dim() > 0 && h.shape()[0] > 0 ? h.numel() / h.shape()[0] : 0;
  return h;
}

}  // namespace mpq::models
