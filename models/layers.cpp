#include "models/layers.h"

#include <cmath>

#include "ops/batch_norm.h"
#include "ops/conv2d.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/reduce.h"

namespace mpq::models {

namespace {
// PyTorch's default: kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) * ...
// with gain sqrt(2 / (1 + a^2)) = sqrt(1/3): bound = sqrt(3) gain / sqrt(fan_in) = 1/sqrt(fan_in).
Tensor default_weight(const Shape& s, Generator& gen) {
  Tensor w = empty(s);
  kaiming_uniform_(w, std::sqrt(1.0 / 3.0), gen);
  return w;
}
Tensor default_bias(std::int64_t n, double fan_in, Generator& gen) {
  const double b = 1.0 / std::sqrt(fan_in);
  return rand_uniform({n}, -b, b, gen);
}
}  // namespace

Conv2d::Conv2d(const Conv2dOptions& o, Generator& gen) {
  MPQ_CHECK(o.in > 0 && o.out > 0 && o.kernel > 0 && o.groups > 0 && o.in % o.groups == 0 &&
                o.out % o.groups == 0,
            "Conv2d: invalid options in=", o.in, " out=", o.out, " kernel=", o.kernel,
            " groups=", o.groups);
  weight = register_parameter("weight",
                              default_weight({o.out, o.in / o.groups, o.kernel, o.kernel}, gen));
  if (o.bias)
    bias = register_parameter(
        "bias", default_bias(o.out, double(o.in / o.groups * o.kernel * o.kernel), gen));
  params.stride = {o.stride, o.stride};
  params.padding = {o.padding, o.padding};
  params.groups = o.groups;
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, effective_weight(), effective_bias(), params);
}

Linear::Linear(std::int64_t in, std::int64_t out, bool with_bias, Generator& gen) {
  weight = register_parameter("weight", default_weight({out, in}, gen));
  if (with_bias) bias = register_parameter("bias", default_bias(out, double(in), gen));
}

Tensor Linear::forward(const Tensor& x) {
  return linear(x, weight, bias);
}

BatchNorm2d::BatchNorm2d(std::int64_t c, double m, double e) : momentum(m), eps(e) {
  weight = register_parameter("weight", ones({c}));
  bias = register_parameter("bias", zeros({c}));
  running_mean = register_buffer("running_mean", zeros({c}));
  running_var = register_buffer("running_var", ones({c}));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  return batch_norm2d(x, weight, bias, running_mean, running_var, is_training(), momentum, eps,
                      sync);
}

std::pair<Tensor, Tensor> BatchNorm2d::inference_affine() const {
  Tensor scale = div(weight.detach(), sqrt(add(running_var, eps)));
  Tensor shift = sub(bias.detach(), mul(running_mean, scale));
  return {scale, shift};
}

Tensor ReLU::forward(const Tensor& x) {
  return relu(x);
}
Tensor ReLU6::forward(const Tensor& x) {
  return clamp(x, 0.0, 6.0);
}
Tensor MaxPool2d::forward(const Tensor& x) {
  return max_pool2d(x, params);
}
Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(x, params);
}
Tensor GlobalAvgPool::forward(const Tensor& x) {
  return global_avg_pool2d(x).flatten(1);
}
Tensor Flatten::forward(const Tensor& x) {
  return x.flatten(1);
}

Dropout::Dropout(double prob, std::uint64_t seed) : p(prob), gen(seed) {
  MPQ_CHECK(prob >= 0 && prob < 1, "Dropout: probability ", prob, " outside [0, 1)");
}

Tensor Dropout::forward(const Tensor& x) {
  if (!is_training() || p == 0) return x;
  // The mask is drawn on the host (one RNG stream for every device) and moved.
  const Tensor keep =
      lt(rand_uniform(x.shape(), 0, 1, gen, x.dtype()), full({}, 1 - p, x.dtype())).to(x.device());
  return where(keep, mul(x, 1.0 / (1 - p)), zeros({}, x.dtype(), x.device()));
}

void Sequential::push_back(std::shared_ptr<Module> m) {
  register_module(std::to_string(layers_.size()), m);
  layers_.push_back(std::move(m));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& l : layers_) h = l->forward(h);
  return h;
}

int set_batch_norm_sync(Module& net, const BatchNormSync& sync) {
  int n = 0;
  if (auto* bn = dynamic_cast<BatchNorm2d*>(&net)) {
    bn->sync = sync;
    ++n;
  }
  for (auto& [name, child] : net.named_children()) n += set_batch_norm_sync(*child, sync);
  return n;
}

}  // namespace mpq::models
