#include "deploy/export.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/autograd.h"
#include "core/error.h"
#include "models/layers.h"
#include "models/quantized.h"

namespace mpq::deploy {

namespace {

// The exponent e of x = 2^e, or an error naming `what`.
int exact_pow2(double x, const std::string& what, const char* quantity) {
  MPQ_CHECK(std::isfinite(x) && x > 0, what, ": ", quantity, " ", x, " is not positive");
  const int e = std::ilogb(x);
  MPQ_CHECK(std::ldexp(1.0, e) == x, what, ": ", quantity, " ", x,
            " is not a power of two; the integer engine needs power-of-two steps (the training "
            "programs always use them; mpq quant --real-step does not)");
  return e;
}

template <class T>
T& need(models::Module& root, const std::string& path, const std::string& model) {
  auto* m = dynamic_cast<T*>(root.find(path));
  MPQ_CHECK(m, "export: ", model, " has no layer '", path, "' of the expected kind");
  return *m;
}

std::vector<float> floats(const Tensor& t) {
  return t.detach().contiguous().to(DType::f32).to_vector<float>();
}

// The batch norm after `conv`, folded with the conv's bias into one
// per-channel affine: bn(conv + b) = scale conv + (shift + scale b).
void fold_batch_norm(models::BatchNorm2d& bn, const models::Conv2d& conv, std::vector<float>& scale,
                     std::vector<float>& shift) {
  const auto [s, t] = bn.inference_affine();
  scale = floats(s);
  shift = floats(t);
  const Tensor bias = conv.effective_bias();
  if (!bias.defined()) return;
  const std::vector<float> bv = floats(bias);
  for (std::size_t k = 0; k < shift.size(); ++k) shift[k] += scale[k] * bv[k];
}

// A float network's weight as it is.
WeightTensor float_weight(const Tensor& w) {
  WeightTensor t;
  t.shape = w.shape();
  t.values = floats(w);
  return t;
}

// One conv -> bn -> activation quantizer step of the graph.
struct Builder {
  models::Module& net;
  std::string model;
  IntegerModel out;
  bool float_network = false;  // the float weights and ReLUs (lower_network's flag)

  int add_tensor(const std::string& name, const Grid& grid) {
    out.tensor_names.push_back(name);
    out.tensor_grids.push_back(grid);
    return out.num_tensors++;
  }

  // conv, bn and act are layer paths; returns the output tensor.
  int conv_bn_act(const std::string& conv, const std::string& bn, const std::string& act, int input,
                  std::optional<Residual> residual = std::nullopt,
                  std::optional<Projection> projection = std::nullopt) {
    auto& c = need<models::QConv2d>(net, conv, model);
    auto& b = need<models::BatchNorm2d>(net, bn, model);
    auto& a = need<models::ActQuant>(net, act, model);
    if (float_network) {
      MPQ_CHECK(a.is_relu(), "export: ", act, " is not a plain ReLU in the float network");
    } else {
      MPQ_CHECK(c.weight_q && c.enabled, "export: layer ", conv,
                " has float weights; the integer engine needs every weight quantized");
      MPQ_CHECK(a.q && a.enabled, "export: activation ", act,
                " stays float (a weights-only run?); the integer engine needs every activation "
                "before a convolution quantized, and cannot run this network");
    }
    const auto& p = c.params;
    MPQ_CHECK(p.stride[0] == p.stride[1] && p.padding[0] == p.padding[1] && p.dilation[0] == 1 &&
                  p.dilation[1] == 1 && c.weight.shape()[2] == c.weight.shape()[3],
              "export: layer ", conv,
              ": the engine takes square kernels, strides and paddings "
              "without dilation");
    ConvNode n;
    n.name = conv;
    n.input = input;
    n.out_channels = c.weight.shape()[0];
    n.in_channels = c.weight.shape()[1] * p.groups;
    n.kernel = c.weight.shape()[2];
    n.stride = p.stride[0];
    n.padding = p.padding[0];
    n.groups = p.groups;
    n.weight = float_network
                   ? float_weight(c.effective_weight())
                   : weight_levels(*c.weight_q, c.weight, grid_of(*c.weight_q, conv + ".weight"),
                                   conv + ".weight");
    fold_batch_norm(b, c, n.scale, n.shift);
    n.residual = residual;
    n.projection = std::move(projection);
    if (!float_network) {
      n.out = grid_of(*a.q, act);
      n.out.check(act, true);
    }
    n.out_name = act;
    n.output = add_tensor(act, n.out);
    out.convs.push_back(std::move(n));
    return out.convs.back().output;
  }
};

}  // namespace

Grid grid_of(const quant::Quantizer& q, const std::string& what) {
  const quant::QuantizerValues v = q.values();
  const quant::QuantizerSpec& spec = q.spec();
  Grid g;
  g.is_signed = spec.is_signed;
  g.with_zero = spec.with_zero;
  MPQ_CHECK(std::isfinite(v.b) && v.b == std::round(v.b), what, ": bitwidth ", v.b,
            " is not a whole number");
  MPQ_CHECK(v.b >= 1 && v.b <= 8, what, ": ", v.b,
            " bits; the integer engine and the packed file take 1 to 8 bits");
  g.bits = static_cast<int>(v.b);
  if (quant::is_uniform(spec.param)) {
    g.kind = GridKind::uniform;
    g.with_zero = true;
    g.step_exp = exact_pow2(v.d, what, "step d");
    const double levels = std::round(v.qmax / v.d);  // half away from zero, as the kernels
    MPQ_CHECK(levels >= 1 && levels <= 255, what, ": ", levels, " levels (q_max ", v.qmax, ", d ",
              v.d, ")");
    g.top = static_cast<int>(levels);
    // U2 with its power-of-two step can use more levels than its b holds
    // (docs/method.md section 2: up to sqrt(2) L_b), and fake-quant computes
    // with all of them: the packed width is what the levels need.
    int need = 1;
    while ((std::int64_t{1} << need) - 1 < g.top) ++need;
    g.bits = std::max(g.bits, need + (g.is_signed ? 1 : 0));
    MPQ_CHECK(g.bits <= 8, what, ": ", g.top, " levels need ", g.bits,
              " bits; the integer engine and the packed file take up to 8");
  } else {
    g.kind = GridKind::pow2;
    g.step_exp = exact_pow2(v.qmin, what, "q_min");
    const int hi = exact_pow2(v.qmax, what, "q_max");
    MPQ_CHECK(hi >= g.step_exp, what, ": q_max ", v.qmax, " below q_min ", v.qmin);
    g.top = hi - g.step_exp;
  }
  return g;
}

WeightTensor weight_levels(const quant::Quantizer& q, const Tensor& w, const Grid& grid,
                           const std::string& what) {
  NoGradGuard ng;
  grid.check(what, false);
  WeightTensor t;
  t.shape = w.shape();
  t.grid = grid;
  const std::vector<float> values = q.forward(w.detach()).contiguous().to_vector<float>();
  t.levels.resize(values.size());
  const std::vector<std::int32_t> on_grid = grid.levels();
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double l = std::ldexp(static_cast<double>(values[i]), -grid.step_exp);
    MPQ_CHECK(std::isfinite(l) && l == std::round(l) && std::fabs(l) <= 255, what, ": value ",
              values[i], " at index ", i, " is not a whole number of steps 2^", grid.step_exp);
    t.levels[i] = static_cast<std::int32_t>(l);
    MPQ_CHECK(std::find(on_grid.begin(), on_grid.end(), t.levels[i]) != on_grid.end(), what,
              ": level ", t.levels[i], " at index ", i, " is not on its grid (", grid.str(), ")");
  }
  return t;
}

namespace {

// A projection shortcut: `path`.0 (the 1x1 conv) and `path`.1 (its batch norm).
Projection projection_of(models::Module& net, const std::string& path, const std::string& model,
                         bool float_network) {
  auto& c = need<models::QConv2d>(net, path + ".0", model);
  auto& bn = need<models::BatchNorm2d>(net, path + ".1", model);
  MPQ_CHECK(float_network || (c.weight_q && c.enabled), "export: layer ", path,
            ".0 has float weights; the integer engine needs every weight quantized");
  const auto& prm = c.params;
  MPQ_CHECK(prm.groups == 1 && prm.stride[0] == prm.stride[1] && prm.padding[0] == prm.padding[1] &&
                c.weight.shape()[2] == c.weight.shape()[3],
            "export: layer ", path, ".0: the engine takes square, ungrouped projections");
  Projection p;
  p.kernel = c.weight.shape()[2];
  p.stride = prm.stride[0];
  p.padding = prm.padding[0];
  p.weight = float_network
                 ? float_weight(c.effective_weight())
                 : weight_levels(*c.weight_q, c.weight, grid_of(*c.weight_q, path + ".0.weight"),
                                 path + ".0.weight");
  fold_batch_norm(bn, c, p.scale, p.shift);
  return p;
}

}  // namespace

IntegerModel lower_network(models::Module& net, const std::string& model, const InputSpec& input,
                           bool float_network) {
  NoGradGuard ng;
  net.eval();
  const bool cifar = model == "resnet20" || model == "resnet32" || model == "resnet56";
  MPQ_CHECK(float_network || model != "mobilenet_v2",
            "export: mobilenet_v2: its blocks end in a linear "
            "bottleneck whose output (and the residual sum) training leaves float, so the next "
            "block reads real values, not levels; no integer engine can compute that network "
            "exactly (it would need a quantizer there in training)");
  MPQ_CHECK(cifar || model == "resnet18", "export: ", model,
            ": the integer engine has graphs for resnet20, resnet32, resnet56 and resnet18");
  Builder b{net, model, {}, float_network};
  b.out.model = model;
  b.out.float_network = float_network;
  b.out.input = input;
  b.out.num_tensors = 0;
  b.add_tensor("input", Grid{});
  int x = b.conv_bn_act("conv1", "bn1", "act1", 0);
  if (!cifar) {
    // ResNet-18's stem ends in a 3x3 / 2 max pool over act1's levels.
    auto& mp = need<models::MaxPool2d>(net, "maxpool", model);
    const auto& pp = mp.params;
    MPQ_CHECK(pp.kernel[0] == pp.kernel[1] && pp.stride[0] == pp.stride[1] &&
                  pp.padding[0] == pp.padding[1],
              "export: maxpool: the engine takes square windows");
    PoolNode pool;
    pool.name = "maxpool";
    pool.after = 0;
    pool.input = x;
    pool.kernel = pp.kernel[0];
    pool.stride = pp.stride[0];
    pool.padding = pp.padding[0];
    pool.output = b.add_tensor("maxpool", b.out.tensor_grids[static_cast<std::size_t>(x)]);
    b.out.pools.push_back(pool);
    x = pool.output;
  }
  for (int stage = 1; stage <= (cifar ? 3 : 4); ++stage) {
    for (int i = 0;; ++i) {
      const std::string p = "layer" + std::to_string(stage) + "." + std::to_string(i);
      if (!net.find(p)) break;
      auto& c1 = need<models::QConv2d>(net, p + ".conv1", model);
      auto& c2 = need<models::QConv2d>(net, p + ".conv2", model);
      const std::int64_t in = c1.weight.shape()[1], out = c2.weight.shape()[0];
      const std::int64_t stride = c1.params.stride[0];
      const int h = b.conv_bn_act(p + ".conv1", p + ".bn1", p + ".act1", x);
      Residual r;
      r.tensor = x;
      // A projection: option B of the CIFAR ResNets ("shortcut"), ResNet-18's "downsample".
      const std::string proj = p + (cifar ? ".shortcut" : ".downsample");
      if (net.find(proj)) {
        x = b.conv_bn_act(p + ".conv2", p + ".bn2", p + ".act2", h, r,
                          projection_of(net, proj, model, float_network));
        continue;
      }
      // Option A: x[:, :, ::stride, ::stride], zero-padded to `out` channels
      // with (out - in) / 2 of them before (models/resnet_cifar.cpp).
      r.stride = stride;
      r.channel_offset = (out - in) / 2;
      x = b.conv_bn_act(p + ".conv2", p + ".bn2", p + ".act2", h, r);
    }
  }
  auto& fc = need<models::QLinear>(net, "fc", model);
  MPQ_CHECK(float_network || (fc.weight_q && fc.enabled),
            "export: the classifier 'fc' has float weights");
  HeadNode& head = b.out.head;
  head.input = x;
  head.classes = fc.weight.shape()[0];
  head.weight = float_network ? float_weight(fc.weight)
                              : weight_levels(*fc.weight_q, fc.weight,
                                              grid_of(*fc.weight_q, "fc.weight"), "fc.weight");
  if (fc.bias.defined()) {
    if (fc.bias_q && !float_network) {
      head.bias = weight_levels(*fc.bias_q, fc.bias, grid_of(*fc.bias_q, "fc.bias"), "fc.bias");
    } else {
      head.float_bias = floats(fc.bias);
    }
  }
  b.out.check();
  return std::move(b.out);
}

}  // namespace mpq::deploy
