#include "deploy/compare.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "data/transforms.h"
#include "models/quantized.h"

namespace mpq::deploy {

std::int64_t Mismatch::values() const {
  std::int64_t v = 0;
  for (const LayerMismatch& l : layers) v += l.values;
  return v;
}

std::int64_t Mismatch::differ() const {
  std::int64_t v = 0;
  for (const LayerMismatch& l : layers) v += l.differ;
  return v;
}

std::int64_t Mismatch::max_steps() const {
  std::int64_t v = 0;
  for (const LayerMismatch& l : layers) v = std::max(v, l.max_steps);
  return v;
}

double Mismatch::fraction() const {
  const std::int64_t v = values();
  return v ? static_cast<double>(differ()) / static_cast<double>(v) : 0.0;
}

namespace {

models::ActQuant& activation(models::Module& net, const std::string& name) {
  auto* act = dynamic_cast<models::ActQuant*>(net.find(name));
  MPQ_CHECK(act, "compare: the network has no activation quantizer '", name,
            "' (is it the network the model was exported from?)");
  return *act;
}

void count(LayerMismatch& l, const Grid& g, const std::vector<std::uint8_t>& want,
           const std::vector<std::uint8_t>& got) {
  MPQ_CHECK(want.size() == got.size(), "compare: layer ", l.name, ": ", want.size(), " against ",
            got.size(), " levels");
  // Position on the grid: the level (uniform), 0 and j + 1 for 2^j (power of two).
  auto pos = [&g](std::uint8_t level) -> std::int64_t {
    if (g.kind == GridKind::uniform || level == 0) return level;
    return std::bit_width(static_cast<unsigned>(level));  // 2^j -> j + 1
  };
  for (std::size_t i = 0; i < want.size(); ++i)
    if (want[i] != got[i]) {
      ++l.differ;
      l.max_steps = std::max<std::int64_t>(l.max_steps, std::llabs(pos(want[i]) - pos(got[i])));
    }
  l.values += static_cast<std::int64_t>(want.size());
}

}  // namespace

FakeQuantComparison::FakeQuantComparison(models::Module& net, Engine& engine)
    : net_(net), engine_(engine) {
  const IntegerModel& m = engine.model();
  seen_.resize(static_cast<std::size_t>(m.num_tensors));
  layer_of_.assign(static_cast<std::size_t>(m.num_tensors), -1);
  std::vector<bool> pooled(static_cast<std::size_t>(m.num_tensors), false);
  for (const PoolNode& p : m.pools) pooled[static_cast<std::size_t>(p.output)] = true;
  for (int t = 1; t < m.num_tensors; ++t) {
    if (pooled[static_cast<std::size_t>(t)]) continue;  // derived from its pool's input
    const std::string& name = m.tensor_names[static_cast<std::size_t>(t)];
    Tensor* slot = &seen_[static_cast<std::size_t>(t)];
    layer_of_[static_cast<std::size_t>(t)] = static_cast<int>(result_.per_layer.layers.size());
    activation(net, name).observer = [slot](const Tensor& v) { *slot = v; };
    result_.end_to_end.layers.push_back({name, 0, 0, 0});
    result_.per_layer.layers.push_back({name, 0, 0, 0});
  }
}

FakeQuantComparison::~FakeQuantComparison() {
  const IntegerModel& m = engine_.model();
  for (int t = 1; t < m.num_tensors; ++t)
    if (layer_of_[static_cast<std::size_t>(t)] >= 0)
      if (auto* act = dynamic_cast<models::ActQuant*>(
              net_.find(m.tensor_names[static_cast<std::size_t>(t)])))
        act->observer = nullptr;
}

void FakeQuantComparison::add(const std::uint8_t* images, std::int64_t n, std::int64_t channels,
                              std::int64_t height, std::int64_t width,
                              const std::vector<std::int32_t>& labels, EngineOutput& out) {
  const IntegerModel& m = engine_.model();
  engine_.run(images, n, channels, height, width, out, true);
  NoGradGuard ng;
  net_.eval();
  // The network's input as training evaluates it: framed, then scaled.
  const Tensor pixels = from_vector<std::uint8_t>(
      std::vector<std::uint8_t>(images, images + n * channels * height * width),
      {n, channels, height, width});
  const Tensor framed = data::to_float32(data::center_crop(pixels, m.input.height, m.input.width));
  std::vector<float> mean, stddev;
  for (std::size_t c = 0; c < m.input.mean.size(); ++c) {
    mean.push_back(static_cast<float>(m.input.mean[c]));
    stddev.push_back(static_cast<float>(m.input.std[c]));
  }
  // The paper's (p / 255 - 0.5) * 2 bit for bit as training computes it;
  // otherwise (p - mean) / std as data::normalize (ImageNet's statistics).
  const Tensor x =
      m.input.is_pm1() ? data::normalize_pm1(framed) : data::normalize(framed, mean, stddev);
  logits_ = net_.forward(x).contiguous().to_vector<float>();
  const std::vector<float>& logits = logits_;
  Comparison& c = result_;
  const std::int64_t classes = out.classes;
  MPQ_CHECK(static_cast<std::int64_t>(logits.size()) == n * classes, "compare: the network gives ",
            logits.size(), " logits for ", n, " images of ", classes, " classes");
  for (std::int64_t i = 0; i < n; ++i) {
    const float* l = logits.data() + i * classes;
    const int ref = static_cast<int>(std::max_element(l, l + classes) - l);
    const int eng = out.argmax(i);
    c.agree += ref == eng;
    if (!labels.empty()) {
      c.reference_correct += ref == labels[static_cast<std::size_t>(i)];
      c.engine_correct += eng == labels[static_cast<std::size_t>(i)];
    }
    for (std::int64_t k = 0; k < classes; ++k)
      c.max_logit_diff = std::max(c.max_logit_diff,
                                  std::fabs(static_cast<double>(l[k]) -
                                            out.logits[static_cast<std::size_t>(i * classes + k)]));
  }
  c.images += n;

  // Fake-quant's levels, value / step, as the engine lays them out: [N, H, W, C].
  std::vector<std::vector<std::uint8_t>> fq(static_cast<std::size_t>(m.num_tensors));
  for (int t = 1; t < m.num_tensors; ++t) {
    const int layer = layer_of_[static_cast<std::size_t>(t)];
    if (layer < 0) continue;
    const Grid& g = m.tensor_grids[static_cast<std::size_t>(t)];
    const TensorShape& s = engine_.shape(t);
    const Tensor& v = seen_[static_cast<std::size_t>(t)];
    MPQ_CHECK(v.defined() && v.shape() == (Shape{n, s.channels, s.height, s.width}),
              "compare: ", m.tensor_names[static_cast<std::size_t>(t)],
              ": no fake-quant activation of shape [", n, ", ", s.channels, ", ", s.height, ", ",
              s.width, "]");
    const std::vector<float> fv = v.contiguous().to_vector<float>();
    std::vector<std::uint8_t>& lv = fq[static_cast<std::size_t>(t)];
    lv.resize(fv.size());
    const std::int64_t plane = s.height * s.width;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t ch = 0; ch < s.channels; ++ch)
        for (std::int64_t p = 0; p < plane; ++p) {
          const double level = std::ldexp(
              static_cast<double>(fv[static_cast<std::size_t>((i * s.channels + ch) * plane + p)]),
              -g.step_exp);
          MPQ_CHECK(level == std::round(level) && level >= 0 && level <= 255,
                    "compare: ", m.tensor_names[static_cast<std::size_t>(t)],
                    ": the fake-quant value ", level, " steps is not a level of its grid");
          lv[static_cast<std::size_t>((i * plane + p) * s.channels + ch)] =
              static_cast<std::uint8_t>(level);
        }
    count(c.end_to_end.layers[static_cast<std::size_t>(layer)], g, lv,
          out.levels[static_cast<std::size_t>(t)]);
  }
  // A max pool's levels from fake-quant's levels of its input (exact: the
  // max commutes with the quantizer).
  for (std::size_t k = 0; k < m.pools.size(); ++k) {
    const PoolNode& p = m.pools[k];
    engine_.set_levels(p.input, n, fq[static_cast<std::size_t>(p.input)]);
    engine_.run_pool(k, n);
    fq[static_cast<std::size_t>(p.output)] = engine_.levels(p.output);
  }
  // Each conv on fake-quant's levels of its inputs.
  for (std::size_t k = 0; k < m.convs.size(); ++k) {
    const ConvNode& cv = m.convs[k];
    if (cv.input > 0) engine_.set_levels(cv.input, n, fq[static_cast<std::size_t>(cv.input)]);
    if (cv.residual)
      engine_.set_levels(cv.residual->tensor, n, fq[static_cast<std::size_t>(cv.residual->tensor)]);
    engine_.run_conv(k, n);
    count(c.per_layer
              .layers[static_cast<std::size_t>(layer_of_[static_cast<std::size_t>(cv.output)])],
          cv.out, fq[static_cast<std::size_t>(cv.output)], engine_.levels(cv.output));
  }
}

}  // namespace mpq::deploy
