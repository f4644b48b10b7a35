// IntegerModel: a trained network as integers (docs/integer.md), the
// contents of an exported model file and what the integer engine runs.
//
// Every quantizer of the network becomes a Grid: its values are
// step * level, with step = 2^step_exp and integer levels
//   uniform, signed:    -L .. L          (L = round(q_max / d))
//   uniform, unsigned:   0 .. L
//   power of two:       +-2^j, j = 0 .. K (K = log2(q_max / q_min)), and 0
//                       with the zero level; unsigned: non-negative only.
// A tensor on a grid is stored as its levels ("integer values"); weights are
// packed in the file as b-bit codes (deploy/pack.h): the uniform level
// itself in two's complement, a power-of-two level as its index in the
// grid's ascending list of levels.
//
// The graph is a list of nodes over numbered activation tensors (uint8
// levels, layout [N, H, W, C]); tensor 0 is the input image as uint8 pixels.
//   Conv: levels of `input` convolved with integer weights (int32 sums), then
//         y = scale[c] * step_in * step_w * sum + shift[c]
//             (+ the residual: a tensor's value, or a projection of it
//             through a 1x1 conv and batch norm, for a block's second conv)
//         requantized onto the output grid (docs/integer.md, "Requantization").
//         The stem reads pixels p: its input value is (p - mean[c]) / std[c].
//   Pool: max pooling of a tensor's levels (max commutes with quantization),
//         run right after the conv `after`.
//   Head: global average pooling, then the linear classifier with quantized
//         weight and bias; logits as real numbers (double).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mpq::deploy {

enum class GridKind : std::uint8_t { uniform, pow2 };

struct Grid {
  GridKind kind = GridKind::uniform;
  bool is_signed = false;
  bool with_zero = true;  // power of two only (uniform grids always hold 0)
  int bits = 8;           // the inferred bitwidth: the packed code width
  int step_exp = 0;       // step = 2^step_exp (uniform: d; power of two: q_min)
  int top = 0;            // uniform: L; power of two: K

  // The largest level magnitude: L, or 2^K.
  std::int64_t max_level() const;
  // Levels in ascending order (what a power-of-two code indexes).
  std::vector<std::int32_t> levels() const;
  // Refuses a grid whose levels do not fit `bits` bits, an activation grid
  // (unsigned) whose levels exceed 255 or a weight grid beyond +-127 (the
  // engine's uint8 and int8 types), naming `what`.
  void check(const std::string& what, bool activation) const;
  std::string str() const;  // e.g. "uniform unsigned 4 bits, step 2^-3, L 15"
};

// The b-bit codes of `levels` on `grid` and back (see the file comment).
std::vector<std::int32_t> codes_of_levels(const Grid& grid,
                                          const std::vector<std::int32_t>& levels);
std::vector<std::int32_t> levels_of_codes(const Grid& grid, const std::vector<std::int32_t>& codes);

struct WeightTensor {
  std::vector<std::int64_t> shape;  // conv: [O, I/groups, kh, kw]; linear: [O, I]
  Grid grid;
  std::vector<std::int32_t> levels;  // weight / step, row-major
  std::vector<float> values;         // a float network's weights instead (see float_network)
  std::int64_t numel() const;
};

// The input images and how the network's float input derives from them:
// x = (p - mean[c]) / std[c] in channel c, p the uint8 pixel of an image
// centred in a height x width frame of zero pixels.
struct InputSpec {
  std::int64_t channels = 1, height = 32, width = 32;
  std::vector<double> mean{127.5}, std{127.5};  // per channel, in pixel units

  // The paper's (p / 255 - 0.5) * 2 for every channel.
  static InputSpec pm1(std::int64_t channels, std::int64_t height = 32, std::int64_t width = 32);
  // torchvision's ImageNet scaling, (p / 255 - mean) / std with its RGB
  // statistics, as data::imagenet_eval_transform computes it.
  static InputSpec imagenet(std::int64_t size);
  // Every channel scaled the same: (p - 127.5) / 127.5.
  bool is_pm1() const;
};

struct Residual {
  int tensor = -1;                  // the block's input
  std::int64_t stride = 1;          // option A shortcut: every stride-th row and column
  std::int64_t channel_offset = 0;  // ... and its channels placed from this one on (zeros around)
};

// A shortcut through a conv and its batch norm (ResNet-18's "downsample",
// option B of the CIFAR ResNets): its int32 sums enter the block's
// requantization with their own multiplier, before the one rounding.
struct Projection {
  std::int64_t kernel = 1, stride = 1, padding = 0;
  WeightTensor weight;  // [O, I, kernel, kernel]
  std::vector<float> scale, shift;
};

struct ConvNode {
  std::string name;  // the layer, e.g. "layer1.0.conv1"
  int input = 0, output = 0;
  std::int64_t in_channels = 0, out_channels = 0, kernel = 3, stride = 1, padding = 1, groups = 1;
  WeightTensor weight;
  // Folded batch norm (and conv bias): y = scale * conv + shift, per output channel.
  std::vector<float> scale, shift;
  std::optional<Residual> residual;
  // With `residual`: the shortcut goes through this conv (the residual's
  // stride and channel offset are then unused).
  std::optional<Projection> projection;
  Grid out;              // the activation quantizer after it (unsigned)
  std::string out_name;  // its layer name, e.g. "layer1.0.act1"
};

struct PoolNode {
  std::string name;  // e.g. "maxpool"
  int after = 0;     // runs right after convs[after]
  int input = 0, output = 0;
  std::int64_t kernel = 3, stride = 2, padding = 1;
};

struct HeadNode {
  int input = 0;
  std::int64_t classes = 0;
  WeightTensor weight;               // [classes, C]
  std::optional<WeightTensor> bias;  // [classes]
  std::vector<float> float_bias;     // a bias that stays float (empty: none)
};

struct IntegerModel {
  std::string model;   // the zoo name, e.g. "resnet20"
  std::string source;  // what it was exported from (run folder, checkpoint)
  InputSpec input;
  std::vector<ConvNode> convs;  // in execution order
  std::vector<PoolNode> pools;  // each after its conv
  HeadNode head;
  int num_tensors = 1;                    // activation tensors, 0 the input
  std::vector<std::string> tensor_names;  // per tensor: the quantizer that wrote it ("input": 0)
  std::vector<Grid> tensor_grids;         // per tensor (tensor 0: unused)
  // The same graph of a float network (the float ONNX export): weights as
  // WeightTensor::values, ReLUs where the quantizers would be, no grids. The
  // engine and the .mpqm file refuse it.
  bool float_network = false;

  // Checks the graph: tensor numbering, shapes, grids, per-channel sizes.
  void check() const;
};

}  // namespace mpq::deploy
