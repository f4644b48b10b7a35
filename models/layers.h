// Float layers. Weights use PyTorch's layouts and default initialisations
// (Kaiming-uniform with a = sqrt(5) for conv and linear weights, uniform
// +-1/sqrt(fan_in) for biases; BN gamma 1, beta 0, running mean 0, var 1).
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "models/module.h"
#include "ops/batch_norm.h"
#include "ops/conv2d_params.h"
#include "ops/pool.h"

namespace mpq::models {

struct Conv2dOptions {
  std::int64_t in, out, kernel;
  std::int64_t stride = 1, padding = 0, groups = 1;
  bool bias = false;
};

class Conv2d : public Module {
 public:
  Conv2d(const Conv2dOptions& o, Generator& gen);
  Tensor forward(const Tensor& x) override;
  // The weight and bias the convolution uses (QConv2d: their quantized values).
  virtual Tensor effective_weight() const { return weight; }
  virtual Tensor effective_bias() const { return bias; }
  Tensor weight, bias;  // bias undefined without one
  Conv2dParams params;
};

class Linear : public Module {
 public:
  Linear(std::int64_t in, std::int64_t out, bool bias, Generator& gen);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(std::int64_t channels, double momentum = 0.1, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  // Inference form y = scale x + shift from the running statistics:
  // scale = gamma / sqrt(var + eps), shift = beta - mean scale.
  std::pair<Tensor, Tensor> inference_affine() const;
  Tensor weight, bias, running_mean, running_var;
  double momentum, eps;
  // Set: training statistics over every process's slice of the batch
  // (synchronised batch norm, ops/batch_norm.h).
  BatchNormSync sync;
};

// Gives every BatchNorm2d under `net` the synchronisation `sync` (empty: none
// again); returns how many there are.
int set_batch_norm_sync(Module& net, const BatchNormSync& sync);

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

// min(max(x, 0), 6), MobileNetV2's activation.
class ReLU6 : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Pool2dParams p) : params(p) {}
  Tensor forward(const Tensor& x) override;
  Pool2dParams params;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Pool2dParams p) : params(p) {}
  Tensor forward(const Tensor& x) override;
  Pool2dParams params;
};

// [N, C, H, W] -> [N, C] by averaging over H and W.
class GlobalAvgPool : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

// Zeroes each element with probability p in training (scaling the rest by
// 1/(1-p)); identity in evaluation. Uses its own seeded generator.
class Dropout : public Module {
 public:
  explicit Dropout(double p, std::uint64_t seed = 0);
  Tensor forward(const Tensor& x) override;
  double p;
  Generator gen;
};

// Runs its children in order; children are named "0", "1", ...
class Sequential : public Module {
 public:
  Sequential() = default;
  void push_back(std::shared_ptr<Module> m);
  Tensor forward(const Tensor& x) override;
  std::size_t size() const { return layers_.size(); }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace mpq::models
