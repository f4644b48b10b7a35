// The integer engine against the fake-quant network it was exported from,
// on the same images (docs/integer.md, "Exactness"):
//   - top-1 agreement of the two networks' logits;
//   - end to end: the engine's own levels of every activation against the
//     fake-quant activation / step (a one-step difference can propagate);
//   - per layer: each conv run on fake-quant's levels of its inputs, its
//     output against fake-quant's: the requantization rule isolated.
// Levels that differ are counted and measured in positions on their grid
// (one step; a power-of-two grid's neighbouring levels are one apart).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "deploy/engine.h"
#include "models/module.h"

namespace mpq::deploy {

struct LayerMismatch {
  std::string name;  // the activation quantizer, e.g. "layer1.0.act2"
  std::int64_t values = 0, differ = 0, max_steps = 0;
};

struct Mismatch {
  std::vector<LayerMismatch> layers;  // one per activation tensor, in graph order
  std::int64_t values() const;
  std::int64_t differ() const;
  std::int64_t max_steps() const;
  double fraction() const;  // differ / values
};

struct Comparison {
  std::int64_t images = 0, agree = 0;  // top-1 agreement
  std::int64_t engine_correct = 0, reference_correct = 0;
  double max_logit_diff = 0;
  Mismatch end_to_end, per_layer;
};

// Compares batch after batch, accumulating into one Comparison.
class FakeQuantComparison {
 public:
  // `net` must be the network `engine`'s model was exported from (its
  // activation quantizers named as the model's tensors); observers are put
  // on them for the comparer's lifetime.
  FakeQuantComparison(models::Module& net, Engine& engine);
  ~FakeQuantComparison();
  FakeQuantComparison(const FakeQuantComparison&) = delete;
  FakeQuantComparison& operator=(const FakeQuantComparison&) = delete;

  // One batch: uint8 pixels [n, C, h, w] (as Engine::run), and their labels
  // (empty: no accuracy counted). Leaves the engine's output in `out`.
  void add(const std::uint8_t* images, std::int64_t n, std::int64_t channels, std::int64_t height,
           std::int64_t width, const std::vector<std::int32_t>& labels, EngineOutput& out);
  const Comparison& result() const { return result_; }
  // The fake-quant network's logits of the last batch, [n, classes].
  const std::vector<float>& reference_logits() const { return logits_; }

 private:
  models::Module& net_;
  Engine& engine_;
  std::vector<Tensor> seen_;   // per tensor, the last batch's fake-quant output
  std::vector<int> layer_of_;  // per tensor, its entry in the Mismatch lists (-1: a pool's)
  Comparison result_;
  std::vector<float> logits_;
};

}  // namespace mpq::deploy
