#include "deploy/integer_model.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>

#include "core/error.h"
#include "deploy/pack.h"

namespace mpq::deploy {

std::int64_t Grid::max_level() const {
  return kind == GridKind::uniform ? top : std::int64_t{1} << top;
}

std::vector<std::int32_t> Grid::levels() const {
  std::vector<std::int32_t> out;
  if (kind == GridKind::uniform) {
    for (std::int32_t l = is_signed ? -top : 0; l <= top; ++l) out.push_back(l);
    return out;
  }
  if (is_signed)
    for (int j = top; j >= 0; --j) out.push_back(-(std::int32_t{1} << j));
  if (with_zero) out.push_back(0);
  for (int j = 0; j <= top; ++j) out.push_back(std::int32_t{1} << j);
  return out;
}

void Grid::check(const std::string& what, bool activation) const {
  MPQ_CHECK(bits >= kMinPackBits && bits <= kMaxPackBits, what, ": a ", bits,
            "-bit quantizer; the integer engine takes 1 to 8 bits (", str(), ")");
  MPQ_CHECK(step_exp >= -64 && step_exp <= 64, what, ": step 2^", step_exp, " is out of range");
  if (kind == GridKind::uniform) {
    MPQ_CHECK(top >= 1, what, ": a uniform grid with ", top, " positive levels");
    MPQ_CHECK(top <= code_max(bits, is_signed), what, ": ", top, " levels do not fit ", bits,
              " bits (", str(), ")");
  } else {
    MPQ_CHECK(top >= 0 && top <= 30, what, ": a power-of-two grid with K = ", top);
    const auto count = static_cast<std::int64_t>(levels().size());
    MPQ_CHECK(count <= (std::int64_t{1} << bits), what, ": ", count, " levels do not fit ", bits,
              " bits (", str(), ")");
  }
  MPQ_CHECK(activation != is_signed, what, ": ", activation ? "an activation" : "a weight",
            " quantizer must be ", activation ? "unsigned" : "signed", " (", str(), ")");
  // The engine holds activation levels in uint8 and weight levels in int8.
  const std::int64_t limit = activation ? 255 : 127;
  MPQ_CHECK(max_level() <= limit, what, ": levels up to ", max_level(), " do not fit the engine's ",
            activation ? "uint8" : "int8", " (", str(), ")",
            kind == GridKind::pow2 ? ": a power-of-two grid spans at most 2^7 (uint8) or 2^6 "
                                     "(int8) steps"
                                   : "");
}

std::string Grid::str() const {
  std::ostringstream s;
  s << (kind == GridKind::uniform ? "uniform" : "power of two") << " "
    << (is_signed ? "signed" : "unsigned");
  if (kind == GridKind::pow2) s << (with_zero ? " with zero" : " without zero");
  s << ", " << bits << " bits, step 2^" << step_exp << ", "
    << (kind == GridKind::uniform ? "L " : "K ") << top;
  return s.str();
}

std::vector<std::int32_t> codes_of_levels(const Grid& grid,
                                          const std::vector<std::int32_t>& levels) {
  if (grid.kind == GridKind::uniform) {
    for (std::size_t i = 0; i < levels.size(); ++i)
      MPQ_CHECK(std::abs(levels[i]) <= grid.top && (grid.is_signed || levels[i] >= 0), "level ",
                levels[i], " at index ", i, " is not on the grid (", grid.str(), ")");
    return levels;
  }
  const std::vector<std::int32_t> all = grid.levels();
  std::map<std::int32_t, std::int32_t> index;
  for (std::size_t k = 0; k < all.size(); ++k) index[all[k]] = static_cast<std::int32_t>(k);
  std::vector<std::int32_t> out(levels.size());
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const auto it = index.find(levels[i]);
    MPQ_CHECK(it != index.end(), "level ", levels[i], " at index ", i, " is not on the grid (",
              grid.str(), ")");
    out[i] = it->second;
  }
  return out;
}

std::vector<std::int32_t> levels_of_codes(const Grid& grid,
                                          const std::vector<std::int32_t>& codes) {
  if (grid.kind == GridKind::uniform) {
    for (std::size_t i = 0; i < codes.size(); ++i)
      MPQ_CHECK(std::abs(codes[i]) <= grid.top && (grid.is_signed || codes[i] >= 0), "code ",
                codes[i], " at index ", i, " is outside the grid (", grid.str(), ")");
    return codes;
  }
  const std::vector<std::int32_t> all = grid.levels();
  std::vector<std::int32_t> out(codes.size());
  for (std::size_t i = 0; i < codes.size(); ++i) {
    MPQ_CHECK(codes[i] >= 0 && static_cast<std::size_t>(codes[i]) < all.size(), "code ", codes[i],
              " at index ", i, " is outside the grid's ", all.size(), " levels (", grid.str(), ")");
    out[i] = all[static_cast<std::size_t>(codes[i])];
  }
  return out;
}

InputSpec InputSpec::pm1(std::int64_t channels, std::int64_t height, std::int64_t width) {
  InputSpec s;
  s.channels = channels;
  s.height = height;
  s.width = width;
  s.mean.assign(static_cast<std::size_t>(channels), 127.5);
  s.std.assign(static_cast<std::size_t>(channels), 127.5);
  return s;
}

InputSpec InputSpec::imagenet(std::int64_t size) {
  InputSpec s;
  s.channels = 3;
  s.height = s.width = size;
  // 255 mean and 255 std in float32, as data/transforms.cpp's normalize_imagenet.
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stddev[3] = {0.229f, 0.224f, 0.225f};
  s.mean.clear();
  s.std.clear();
  for (int c = 0; c < 3; ++c) {
    s.mean.push_back(static_cast<double>(255.0f * mean[c]));
    s.std.push_back(static_cast<double>(255.0f * stddev[c]));
  }
  return s;
}

bool InputSpec::is_pm1() const {
  for (std::size_t c = 0; c < mean.size(); ++c)
    if (mean[c] != 127.5 || std[c] != 127.5) return false;
  return true;
}

std::int64_t WeightTensor::numel() const {
  std::int64_t n = 1;
  for (const std::int64_t s : shape) n *= s;
  return n;
}

namespace {
void check_weight(const WeightTensor& w, const std::string& what, bool float_network) {
  for (const std::int64_t s : w.shape) MPQ_CHECK(s > 0, what, ": a weight of empty shape");
  if (float_network) {
    MPQ_CHECK(static_cast<std::int64_t>(w.values.size()) == w.numel(), what, ": ", w.values.size(),
              " weights for ", w.numel(), " elements");
    for (const float v : w.values) MPQ_CHECK(std::isfinite(v), what, ": a non-finite weight");
    return;
  }
  MPQ_CHECK(static_cast<std::int64_t>(w.levels.size()) == w.numel(), what, ": ", w.levels.size(),
            " weight levels for ", w.numel(), " elements");
  w.grid.check(what, false);
  const std::int64_t m = w.grid.max_level();
  for (const std::int32_t l : w.levels)
    MPQ_CHECK(std::abs(static_cast<std::int64_t>(l)) <= m, what, ": weight level ", l,
              " is off its grid (", w.grid.str(), ")");
}
}  // namespace

void IntegerModel::check() const {
  MPQ_CHECK(input.channels >= 1 && input.channels <= 4096 && input.height >= 1 &&
                input.height <= 4096 && input.width >= 1 && input.width <= 4096,
            "model: input ", input.channels, "x", input.height, "x", input.width, " out of range");
  MPQ_CHECK(static_cast<std::int64_t>(input.mean.size()) == input.channels &&
                static_cast<std::int64_t>(input.std.size()) == input.channels,
            "model: ", input.mean.size(), " means and ", input.std.size(), " stds for ",
            input.channels, " input channels");
  for (std::size_t c = 0; c < input.mean.size(); ++c)
    MPQ_CHECK(std::isfinite(input.mean[c]) && std::isfinite(input.std[c]) && input.std[c] > 0 &&
                  input.mean[c] >= 0 && input.mean[c] <= 255,
              "model: input mean ", input.mean[c], " and std ", input.std[c], " of channel ", c,
              " are not a pixel scaling");
  MPQ_CHECK(num_tensors >= 2 && num_tensors <= 100000, "model: ", num_tensors, " tensors");
  MPQ_CHECK(static_cast<int>(tensor_names.size()) == num_tensors &&
                static_cast<int>(tensor_grids.size()) == num_tensors,
            "model: tensor names and grids for ", tensor_names.size(), " and ", tensor_grids.size(),
            " of ", num_tensors, " tensors");
  MPQ_CHECK(!convs.empty(), "model: no convolution");
  // The pools that follow each conv (one pass, not convs x pools).
  std::vector<std::vector<std::size_t>> pools_after(convs.size());
  for (std::size_t k = 0; k < pools.size(); ++k) {
    MPQ_CHECK(pools[k].after >= 0 && pools[k].after < static_cast<int>(convs.size()),
              "model: pool ", pools[k].name, " follows conv ", pools[k].after, " of ",
              convs.size());
    pools_after[static_cast<std::size_t>(pools[k].after)].push_back(k);
  }
  // What one image's activations and int32 sums take in the engine: a file
  // that asks for more is refused before anything of that size exists.
  double image_bytes = static_cast<double>(input.channels * input.height * input.width);
  std::vector<std::int64_t> channels(static_cast<std::size_t>(num_tensors), -1);
  std::vector<std::int64_t> height(channels.size(), -1), width(channels.size(), -1);
  channels[0] = input.channels;
  height[0] = input.height;
  width[0] = input.width;
  for (const ConvNode& c : convs) {
    const std::string what = "model: layer " + c.name;
    MPQ_CHECK(c.input >= 0 && c.input < num_tensors && c.output > 0 && c.output < num_tensors &&
                  channels[static_cast<std::size_t>(c.input)] >= 0 &&
                  channels[static_cast<std::size_t>(c.output)] < 0,
              what, ": tensors ", c.input, " -> ", c.output,
              " are not an existing input and a new output");
    MPQ_CHECK(c.in_channels == channels[static_cast<std::size_t>(c.input)], what, ": ",
              c.in_channels, " input channels, its input has ",
              channels[static_cast<std::size_t>(c.input)]);
    MPQ_CHECK(c.groups >= 1 && c.in_channels % c.groups == 0 && c.out_channels >= 1 &&
                  c.out_channels % c.groups == 0 && c.out_channels <= 65536,
              what, ": ", c.in_channels, " -> ", c.out_channels, " channels in ", c.groups,
              " groups");
    MPQ_CHECK(c.kernel >= 1 && c.kernel <= 15 && c.stride >= 1 && c.stride <= 8 && c.padding >= 0 &&
                  c.padding < c.kernel,
              what, ": kernel ", c.kernel, ", stride ", c.stride, ", padding ", c.padding);
    check_weight(c.weight, what, float_network);
    MPQ_CHECK((c.weight.shape == std::vector<std::int64_t>{c.out_channels, c.in_channels / c.groups,
                                                           c.kernel, c.kernel}),
              what, ": weight shape does not match its channels and kernel");
    MPQ_CHECK(static_cast<std::int64_t>(c.scale.size()) == c.out_channels &&
                  static_cast<std::int64_t>(c.shift.size()) == c.out_channels,
              what, ": ", c.scale.size(), " scales and ", c.shift.size(), " shifts for ",
              c.out_channels, " channels");
    for (std::size_t k = 0; k < c.scale.size(); ++k)
      MPQ_CHECK(std::isfinite(c.scale[k]) && std::isfinite(c.shift[k]), what,
                ": a non-finite batch-norm scale or shift at channel ", k);
    if (!float_network) c.out.check(what + " output", true);
    const std::int64_t h = height[static_cast<std::size_t>(c.input)],
                       w = width[static_cast<std::size_t>(c.input)];
    const std::int64_t oh = (h + 2 * c.padding - c.kernel) / c.stride + 1;
    const std::int64_t ow = (w + 2 * c.padding - c.kernel) / c.stride + 1;
    MPQ_CHECK(oh >= 1 && ow >= 1, what, ": the kernel does not fit a ", h, "x", w, " input");
    if (c.residual) {
      const Residual& r = *c.residual;
      MPQ_CHECK(r.tensor > 0 && r.tensor < num_tensors &&
                    channels[static_cast<std::size_t>(r.tensor)] >= 0,
                what, ": residual tensor ", r.tensor, " does not exist yet");
      const auto rt = static_cast<std::size_t>(r.tensor);
      MPQ_CHECK(c.projection || (r.stride >= 1 && r.channel_offset >= 0 &&
                                 r.channel_offset + channels[rt] <= c.out_channels &&
                                 (height[rt] + r.stride - 1) / r.stride == oh &&
                                 (width[rt] + r.stride - 1) / r.stride == ow),
                what, ": residual tensor ", r.tensor, " (", channels[rt], "x", height[rt], "x",
                width[rt], ", stride ", r.stride, ", channels from ", r.channel_offset,
                ") does not match the output ", c.out_channels, "x", oh, "x", ow);
    }
    if (c.projection) {
      const Projection& p = *c.projection;
      MPQ_CHECK(c.residual, what, ": a projection without its input tensor");
      const auto rt = static_cast<std::size_t>(c.residual->tensor);
      check_weight(p.weight, what + " projection", float_network);
      MPQ_CHECK(p.kernel >= 1 && p.kernel <= 15 && p.stride >= 1 && p.stride <= 8 &&
                    p.padding >= 0 && p.padding < p.kernel &&
                    (p.weight.shape ==
                     std::vector<std::int64_t>{c.out_channels, channels[rt], p.kernel, p.kernel}),
                what, ": the projection's weight, kernel, stride or padding do not fit");
      MPQ_CHECK((height[rt] + 2 * p.padding - p.kernel) / p.stride + 1 == oh &&
                    (width[rt] + 2 * p.padding - p.kernel) / p.stride + 1 == ow,
                what, ": the projection's output is not ", oh, "x", ow);
      MPQ_CHECK(static_cast<std::int64_t>(p.scale.size()) == c.out_channels &&
                    static_cast<std::int64_t>(p.shift.size()) == c.out_channels,
                what, ": the projection has ", p.scale.size(), " scales for ", c.out_channels,
                " channels");
      for (std::size_t k = 0; k < p.scale.size(); ++k)
        MPQ_CHECK(std::isfinite(p.scale[k]) && std::isfinite(p.shift[k]), what,
                  ": a non-finite projection scale or shift at channel ", k);
    }
    const auto o = static_cast<std::size_t>(c.output);
    channels[o] = c.out_channels;
    height[o] = oh;
    width[o] = ow;
    image_bytes += 5.0 * static_cast<double>(c.out_channels) * static_cast<double>(oh * ow) *
                   static_cast<double>(c.input == 0 ? c.in_channels : 1);
    MPQ_CHECK(image_bytes < 0x1p28, "model: one image's activations and sums would take more than ",
              "256 MiB in the engine (at layer ", c.name, ")");
    MPQ_CHECK(c.input != 0 || (!c.residual && !c.projection), what,
              ": the stem cannot have a residual");
    for (const std::size_t q : pools_after[static_cast<std::size_t>(&c - convs.data())]) {
      const PoolNode& p = pools[q];
      const std::string pw = "model: pool " + p.name;
      const auto pi = static_cast<std::size_t>(p.input), po = static_cast<std::size_t>(p.output);
      MPQ_CHECK(p.input > 0 && p.input < num_tensors && channels[pi] >= 0 && p.output > 0 &&
                    p.output < num_tensors && channels[po] < 0,
                pw, ": tensors ", p.input, " -> ", p.output,
                " are not an existing input and a new output");
      MPQ_CHECK(p.kernel >= 1 && p.kernel <= 15 && p.stride >= 1 && p.stride <= 8 &&
                    p.padding >= 0 && 2 * p.padding <= p.kernel,
                pw, ": kernel ", p.kernel, ", stride ", p.stride, ", padding ", p.padding);
      const std::int64_t ph = (height[pi] + 2 * p.padding - p.kernel) / p.stride + 1;
      const std::int64_t pwid = (width[pi] + 2 * p.padding - p.kernel) / p.stride + 1;
      MPQ_CHECK(ph >= 1 && pwid >= 1, pw, ": the window does not fit its input");
      const Grid& gi = tensor_grids[pi];
      const Grid& go = tensor_grids[po];
      MPQ_CHECK(gi.kind == go.kind && gi.top == go.top && gi.step_exp == go.step_exp, pw,
                ": the output's grid differs from the input's");
      channels[po] = channels[pi];
      height[po] = ph;
      width[po] = pwid;
    }
    MPQ_CHECK(tensor_grids[o].kind == c.out.kind && tensor_grids[o].top == c.out.top &&
                  tensor_grids[o].step_exp == c.out.step_exp,
              what, ": the output tensor's grid differs from the layer's");
  }
  const auto hi = static_cast<std::size_t>(head.input);
  MPQ_CHECK(head.input > 0 && head.input < num_tensors && channels[hi] >= 0,
            "model: the head reads tensor ", head.input, ", which no layer writes");
  MPQ_CHECK(head.classes >= 1 && head.classes <= 100000, "model: ", head.classes, " classes");
  check_weight(head.weight, "model: classifier weight", float_network);
  MPQ_CHECK((head.weight.shape == std::vector<std::int64_t>{head.classes, channels[hi]}),
            "model: classifier weight shape does not match ", head.classes, " classes x ",
            channels[hi], " channels");
  if (head.bias) {
    check_weight(*head.bias, "model: classifier bias", float_network);
    MPQ_CHECK((head.bias->shape == std::vector<std::int64_t>{head.classes}),
              "model: classifier bias shape does not match ", head.classes, " classes");
  }
  MPQ_CHECK(
      head.float_bias.empty() || static_cast<std::int64_t>(head.float_bias.size()) == head.classes,
      "model: ", head.float_bias.size(), " float biases for ", head.classes, " classes");
  MPQ_CHECK(!(head.bias && !head.float_bias.empty()), "model: a quantized and a float bias");
}

}  // namespace mpq::deploy
