#include "deploy/engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/error.h"
#include "ops/cpu/onednn.h"

namespace mpq::deploy {

using dnnl::memory;

int EngineOutput::argmax(std::int64_t row) const {
  const double* l = logits.data() + row * classes;
  return static_cast<int>(std::max_element(l, l + classes) - l);
}

// The oneDNN primitive of one batch size, with the weights in its layout.
struct ConvPrimitive {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  memory weights;
};

struct Engine::Layer {
  // Per output channel (deploy/requant.h): M, R (+ 2^(F-1) for a uniform
  // output: the rounding folded in), F, and F + e_res - e_out (residual).
  // Each table repeats its out_channels values `block` times: one call of
  // the requantization loop covers `block` pixels.
  // M fits int32 (|M| < 2^31), so M * sum is one 32 x 32 -> 64-bit multiply.
  std::vector<std::int32_t> mul;
  std::vector<std::int64_t> off, shift, rshift;
  std::int64_t block = 1;
  // The stem only (its input is pixels p, the network's input (p - mean) / std):
  // 2 mean, and per output position and channel the sum of the weight levels
  // over the taps inside the image. That sum depends on the row only through
  // which kernel rows fall inside (at most 2 kernel + 1 patterns): rows of
  // [OW, O] sums per pattern, and each output row's pattern.
  bool stem = false;
  std::int64_t mean2 = 0;
  std::vector<std::vector<std::int32_t>> tap_rows;
  std::vector<std::int32_t> row_pattern;
  std::vector<std::int8_t> weights_oihw;  // the levels in plain (g)oihw
  std::map<std::int64_t, ConvPrimitive> by_batch;
};

namespace {

double pow2(int e) {
  return std::ldexp(1.0, e);
}

// |T| = |M acc + R + (residual << s)| must stay inside int64: |acc| is at
// most taps * max|w| * max|x| (the stem's 2 acc - 2 mean B at most
// taps * max|w| * (2 * 255 + 2 * 255)).
void check_range(const ConvNode& c, bool stem, const Grid& in, const Requant& q, int res_shift,
                 std::int64_t res_max) {
  const double taps = static_cast<double>(c.in_channels / c.groups * c.kernel * c.kernel);
  const double x_max = stem ? 1020.0 : static_cast<double>(in.max_level());
  const double acc = taps * static_cast<double>(c.weight.grid.max_level()) * x_max;
  // The stem forms 2 S - 2 mean B in int32.
  MPQ_CHECK(!stem || acc < 0x1p31, "engine: layer ", c.name, ": ", taps,
            " taps are too many for the stem's int32 correction");
  const double t = acc * std::fabs(static_cast<double>(q.multiplier)) +
                   std::fabs(static_cast<double>(q.offset)) +
                   (res_shift >= 0 ? static_cast<double>(res_max) * pow2(res_shift) : 0.0);
  MPQ_CHECK(t < 0x1p62, "engine: layer ", c.name,
            ": its fixed-point requantization could overflow 64 bits (", t, ")");
}

}  // namespace

Engine::Engine(IntegerModel model) : model_(std::move(model)) {
  model_.check();
  const IntegerModel& m = model_;
  shapes_.assign(static_cast<std::size_t>(m.num_tensors), TensorShape{});
  shapes_[0] = {m.input.channels, m.input.height, m.input.width};
  for (const ConvNode& c : m.convs) {
    const TensorShape& in = shapes_[static_cast<std::size_t>(c.input)];
    shapes_[static_cast<std::size_t>(c.output)] = {
        c.out_channels, (in.height + 2 * c.padding - c.kernel) / c.stride + 1,
        (in.width + 2 * c.padding - c.kernel) / c.stride + 1};
  }
  for (const ConvNode& c : m.convs) {
    auto layer = std::make_unique<Layer>();
    const Grid& in_grid = m.tensor_grids[static_cast<std::size_t>(c.input)];
    const int e_out = c.out.step_exp;
    layer->stem = c.input == 0;
    double in_scale = 0;  // the input's step over the output's, times 1/std for the stem
    if (layer->stem) {
      const double mean2 = 2 * m.input.mean;
      MPQ_CHECK(mean2 == std::floor(mean2), "engine: the input mean ", m.input.mean,
                " is not a multiple of 1/2 pixel level; the integer stem needs 2 mean integral");
      layer->mean2 = static_cast<std::int64_t>(mean2);
      // t = scale 2^e_w / std (acc - mean B) / 2^e_out = (m / 2)(2 acc - 2 mean B).
      in_scale = pow2(-e_out) / m.input.std / 2.0;
    } else {
      in_scale = pow2(in_grid.step_exp - e_out);
    }
    const std::int64_t res_max =
        c.residual ? m.tensor_grids[static_cast<std::size_t>(c.residual->tensor)].max_level() : 0;
    for (std::int64_t o = 0; o < c.out_channels; ++o) {
      const auto k = static_cast<std::size_t>(o);
      const double mult = static_cast<double>(c.scale[k]) * pow2(c.weight.grid.step_exp) * in_scale;
      const Requant q = make_requant(mult, static_cast<double>(c.shift[k]) * pow2(-e_out));
      int res_shift = -1;
      if (c.residual) {
        const int e_res = m.tensor_grids[static_cast<std::size_t>(c.residual->tensor)].step_exp;
        res_shift = q.frac_bits + e_res - e_out;
        MPQ_CHECK(res_shift >= 0 && res_shift <= 62, "engine: layer ", c.name,
                  ": the residual's step 2^", e_res, " cannot be aligned to the output's 2^", e_out,
                  " by a shift of the fixed point (", res_shift, " bits)");
      }
      check_range(c, layer->stem, in_grid, q, res_shift, res_max);
      layer->mul.push_back(static_cast<std::int32_t>(q.multiplier));
      layer->off.push_back(
          q.offset + (c.out.kind == GridKind::uniform ? std::int64_t{1} << (q.frac_bits - 1) : 0));
      layer->shift.push_back(q.frac_bits);
      layer->rshift.push_back(std::max(res_shift, 0));
    }
    // block pixels of out_channels values: about 1024 per loop (fewer calls;
    // the tables stay in L1), and a
    // divisor of the output plane (a block never spans two images), and for
    // the stem of the output row (its tap sums are stored per row).
    const TensorShape& os = shapes_[static_cast<std::size_t>(c.output)];
    const std::int64_t span = layer->stem ? os.width : os.height * os.width;
    while (layer->block * c.out_channels < 1024 && span % (2 * layer->block) == 0)
      layer->block *= 2;
    auto repeat = [block = layer->block](auto& v) {
      const auto one = v;
      for (std::int64_t q = 1; q < block; ++q) v.insert(v.end(), one.begin(), one.end());
    };
    repeat(layer->mul);
    repeat(layer->off);
    repeat(layer->shift);
    repeat(layer->rshift);
    layer->weights_oihw.resize(c.weight.levels.size());
    for (std::size_t i = 0; i < c.weight.levels.size(); ++i)
      layer->weights_oihw[i] = static_cast<std::int8_t>(c.weight.levels[i]);
    if (layer->stem) {
      // B[y][x][o] = sum over the taps of output (y, x) that fall inside the image.
      const TensorShape& in = shapes_[0];
      const TensorShape& out = shapes_[static_cast<std::size_t>(c.output)];
      MPQ_CHECK(c.groups == 1, "engine: a grouped stem convolution is not supported");
      std::map<std::pair<std::int64_t, std::int64_t>, std::int32_t> patterns;  // ky range -> index
      for (std::int64_t y = 0; y < out.height; ++y) {
        const std::int64_t top = y * c.stride - c.padding;
        const std::int64_t ky0 = std::max<std::int64_t>(0, -top);
        const std::int64_t ky1 = std::min<std::int64_t>(c.kernel, in.height - top);
        const auto [it, added] =
            patterns.try_emplace({ky0, ky1}, static_cast<std::int32_t>(layer->tap_rows.size()));
        layer->row_pattern.push_back(it->second);
        if (!added) continue;
        std::vector<std::int32_t> row(static_cast<std::size_t>(out.width * c.out_channels), 0);
        for (std::int64_t x = 0; x < out.width; ++x)
          for (std::int64_t o = 0; o < c.out_channels; ++o) {
            std::int64_t sum = 0;
            for (std::int64_t i = 0; i < c.in_channels; ++i)
              for (std::int64_t ky = ky0; ky < ky1; ++ky)
                for (std::int64_t kx = 0; kx < c.kernel; ++kx) {
                  const std::int64_t ix = x * c.stride - c.padding + kx;
                  if (ix < 0 || ix >= in.width) continue;
                  sum += c.weight.levels[static_cast<std::size_t>(
                      ((o * c.in_channels + i) * c.kernel + ky) * c.kernel + kx)];
                }
            row[static_cast<std::size_t>(x * c.out_channels + o)] = static_cast<std::int32_t>(sum);
          }
        layer->tap_rows.push_back(std::move(row));
      }
    }
    layers_.push_back(std::move(layer));
  }
  spaces_.resize(1);
  spaces_[0].buffers.resize(static_cast<std::size_t>(m.num_tensors));
}

Engine::~Engine() = default;

std::int64_t Engine::macs_per_image() const {
  std::int64_t macs = 0;
  for (const ConvNode& c : model_.convs) {
    const TensorShape& o = shapes_[static_cast<std::size_t>(c.output)];
    macs += o.numel() * (c.in_channels / c.groups) * c.kernel * c.kernel;
  }
  return macs + model_.head.weight.numel();
}

namespace {

// One output pixel's channels onto a uniform grid (deploy/requant.h), with
// the stem's pixel correction (b: tap sums) and the residual (r) when given.
// off holds R + 2^(F-1), so that T >> F rounds half away from zero for T > 0
// and is <= 0 (level 0 after the clamp) otherwise. Each case is one plain
// loop of int64 arithmetic over the channels, which the compiler vectorises
// (AVX-512: 64-bit multiplies, per-lane shifts, the narrowing store).
void requant_row_uniform(const std::int32_t* __restrict a, const std::int32_t* __restrict b,
                         std::int64_t mean2, const std::uint8_t* __restrict r,
                         const std::int32_t* __restrict mul, const std::int64_t* __restrict off,
                         const std::int64_t* __restrict shift,
                         const std::int64_t* __restrict rshift, std::int64_t top, std::int64_t n,
                         std::uint8_t* __restrict o) {
  auto store = [top](std::int64_t l) {
    l = l < 0 ? 0 : l;
    return static_cast<std::uint8_t>(l > top ? top : l);
  };
  if (b) {
    for (std::int64_t k = 0; k < n; ++k)
      o[k] = store(
          (static_cast<std::int64_t>(2 * a[k] - static_cast<std::int32_t>(mean2) * b[k]) * mul[k] +
           off[k]) >>
          shift[k]);
  } else if (r) {
    for (std::int64_t k = 0; k < n; ++k)
      o[k] = store((static_cast<std::int64_t>(a[k]) * static_cast<std::int64_t>(mul[k]) + off[k] +
                    (static_cast<std::int64_t>(r[k]) << rshift[k])) >>
                   shift[k]);
  } else {
    for (std::int64_t k = 0; k < n; ++k)
      o[k] = store((static_cast<std::int64_t>(a[k]) * static_cast<std::int64_t>(mul[k]) + off[k]) >>
                   shift[k]);
  }
}

}  // namespace

void Engine::prepare(std::int64_t n) {
  for (std::size_t index = 0; index < model_.convs.size(); ++index) {
    const ConvNode& c = model_.convs[index];
    Layer& layer = *layers_[index];
    if (layer.by_batch.count(n)) continue;
    const TensorShape& is = shapes_[static_cast<std::size_t>(c.input)];
    const TensorShape& os = shapes_[static_cast<std::size_t>(c.output)];
    const memory::dims src_dims{n, is.channels, is.height, is.width};
    const memory::dims dst_dims{n, os.channels, os.height, os.width};
    const memory::dims wei_dims =
        c.groups == 1 ? memory::dims{c.out_channels, c.in_channels, c.kernel, c.kernel}
                      : memory::dims{c.groups, c.out_channels / c.groups, c.in_channels / c.groups,
                                     c.kernel, c.kernel};
    const memory::desc src(src_dims, memory::data_type::u8, memory::format_tag::nhwc);
    const memory::desc dst(dst_dims, memory::data_type::s32, memory::format_tag::nhwc);
    const memory::desc wei_any(wei_dims, memory::data_type::s8, memory::format_tag::any);
    const memory::desc wei_plain(
        wei_dims, memory::data_type::s8,
        c.groups == 1 ? memory::format_tag::oihw : memory::format_tag::goihw);
    dnnl::convolution_forward::desc d(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src, wei_any, dst,
        {c.stride, c.stride}, {c.padding, c.padding}, {c.padding, c.padding});
    ConvPrimitive p;
    // The caller's scratchpad (one per workspace): threads running the same
    // primitive at once must not share oneDNN's.
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    p.pd = dnnl::convolution_forward::primitive_desc(d, attr, cpu::onednn::engine());
    p.prim = dnnl::convolution_forward(p.pd);
    // The weights once into the primitive's int8 layout (oneDNN copies them).
    memory plain(wei_plain, cpu::onednn::engine(), layer.weights_oihw.data());
    p.weights = memory(p.pd.weights_desc(), cpu::onednn::engine());
    cpu::onednn::reorder(plain, p.weights);
    layer.by_batch.emplace(n, std::move(p));
  }
}

void Engine::conv(std::size_t index, std::int64_t n, Workspace& ws, bool parallel, bool requant) {
  const ConvNode& c = model_.convs[index];
  Layer& layer = *layers_[index];
  const TensorShape& os = shapes_[static_cast<std::size_t>(c.output)];
  const auto it = layer.by_batch.find(n);
  MPQ_CHECK(it != layer.by_batch.end(), "engine: no primitive for a batch of ", n);
  ConvPrimitive& p = it->second;
  std::vector<std::uint8_t>& in_buf = ws.buffers[static_cast<std::size_t>(c.input)];
  std::vector<std::uint8_t>& out_buf = ws.buffers[static_cast<std::size_t>(c.output)];
  const std::int64_t rows = n * os.height * os.width;  // output pixels
  // The sums of the largest layer so far (never shrinks).
  if (ws.acc.size() < static_cast<std::size_t>(rows * os.channels))
    ws.acc.resize(static_cast<std::size_t>(rows * os.channels));
  out_buf.resize(static_cast<std::size_t>(rows * os.channels));
  // A stream per call: streams are not shared between threads. Inside a
  // parallel region (throughput mode) oneDNN runs on the calling thread.
  dnnl::stream stream(cpu::onednn::engine());
  const memory::desc scratch_desc = p.pd.scratchpad_desc();
  if (ws.scratch.size() < scratch_desc.get_size()) ws.scratch.resize(scratch_desc.get_size());
  memory src(p.pd.src_desc(), cpu::onednn::engine(), in_buf.data());
  memory dst(p.pd.dst_desc(), cpu::onednn::engine(), ws.acc.data());
  memory scratch(scratch_desc, cpu::onednn::engine(), ws.scratch.data());
  p.prim.execute(stream, {{DNNL_ARG_SRC, src},
                          {DNNL_ARG_WEIGHTS, p.weights},
                          {DNNL_ARG_DST, dst},
                          {DNNL_ARG_SCRATCHPAD, scratch}});
  stream.wait();
  if (!requant) return;

  // Requantization (deploy/requant.h), one output pixel (all channels) at a time.
  const std::int64_t oc = os.channels;
  const std::int32_t* acc = ws.acc.data();
  std::uint8_t* out = out_buf.data();
  const Grid& g = c.out;
  const std::uint8_t* res = nullptr;
  TensorShape rs;
  std::int64_t rstride = 1, roff = 0;
  if (c.residual) {
    res = ws.buffers[static_cast<std::size_t>(c.residual->tensor)].data();
    rs = shapes_[static_cast<std::size_t>(c.residual->tensor)];
    rstride = c.residual->stride;
    roff = c.residual->channel_offset;
  }
  const bool stem = layer.stem;
  // An identity shortcut (same shape, no offset) is read where it lies.
  const bool identity = res && rstride == 1 && roff == 0 && rs.channels == oc;
  const std::int64_t mean2 = layer.mean2;
  const std::int32_t* mul = layer.mul.data();
  const std::int64_t* off = layer.off.data();
  const std::int64_t* shift = layer.shift.data();
  const std::int64_t* rshift = layer.rshift.data();
  const std::int64_t top = g.top;
  const bool uniform = g.kind == GridKind::uniform;
  // Pixels in blocks of `block` (the per-channel tables repeat that often),
  // so that each vectorised loop runs over about 1024 values.
  const std::int64_t block = layer.block;
  const std::int64_t plane = os.height * os.width;
#pragma omp parallel if (parallel)
  {
    // The residual's levels at their channels for one block (zeros around).
    std::vector<std::uint8_t> r_block(res && !identity ? static_cast<std::size_t>(block * oc) : 0,
                                      0);
#pragma omp for schedule(static)
    for (std::int64_t row = 0; row < rows; row += block) {
      const std::int64_t pix = row % plane;
      const std::int64_t img = row / plane;
      const std::int32_t* a = acc + row * oc;
      std::uint8_t* o = out + row * oc;
      const std::uint8_t* r = nullptr;
      if (res && identity) {
        r = res + row * oc;  // the same layout as the output: read in place
      } else if (res) {
        for (std::int64_t q = 0; q < block; ++q) {
          const std::int64_t y = (pix + q) / os.width, x = (pix + q) % os.width;
          const std::uint8_t* from =
              res + ((img * rs.height + y * rstride) * rs.width + x * rstride) * rs.channels;
          std::uint8_t* to = r_block.data() + q * oc + roff;
          for (std::int64_t ch = 0; ch < rs.channels; ++ch) to[ch] = from[ch];
        }
        r = r_block.data();
      }
      // The stem's blocks lie inside one output row.
      const std::int32_t* b =
          stem ? layer.tap_rows[static_cast<std::size_t>(
                                    layer.row_pattern[static_cast<std::size_t>(pix / os.width)])]
                         .data() +
                     (pix % os.width) * oc
               : nullptr;
      if (uniform) {
        requant_row_uniform(a, b, mean2, r, mul, off, shift, rshift, top, block * oc, o);
      } else {
        for (std::int64_t k = 0; k < block * oc; ++k) {
          const std::int64_t v = b ? 2 * static_cast<std::int64_t>(a[k]) - mean2 * b[k] : a[k];
          const std::int64_t t =
              v * mul[k] + off[k] + (r ? static_cast<std::int64_t>(r[k]) << rshift[k] : 0);
          o[k] = static_cast<std::uint8_t>(
              requantize_pow2(t, static_cast<int>(shift[k]), g.top, g.with_zero));
        }
      }
    }
  }
}

void Engine::head(std::int64_t n, const Workspace& ws, double* logits) const {
  const HeadNode& h = model_.head;
  const TensorShape& s = shapes_[static_cast<std::size_t>(h.input)];
  const std::vector<std::uint8_t>& in = ws.buffers[static_cast<std::size_t>(h.input)];
  const Grid& g = model_.tensor_grids[static_cast<std::size_t>(h.input)];
  // logits = 2^(e_w + e_in) / (H W) * sum_c w_c S_c + bias, S_c the sum of
  // the channel's levels: integers until this one scaling (docs/integer.md section 5).
  const double scale =
      pow2(h.weight.grid.step_exp + g.step_exp) / static_cast<double>(s.height * s.width);
  std::vector<std::int64_t> sums(static_cast<std::size_t>(s.channels));
  for (std::int64_t i = 0; i < n; ++i) {
    std::fill(sums.begin(), sums.end(), 0);
    const std::uint8_t* p = in.data() + i * s.numel();
    for (std::int64_t q = 0; q < s.height * s.width; ++q)
      for (std::int64_t c = 0; c < s.channels; ++c)
        sums[static_cast<std::size_t>(c)] += p[q * s.channels + c];
    for (std::int64_t k = 0; k < h.classes; ++k) {
      std::int64_t acc = 0;
      for (std::int64_t c = 0; c < s.channels; ++c)
        acc += static_cast<std::int64_t>(
                   h.weight.levels[static_cast<std::size_t>(k * s.channels + c)]) *
               sums[static_cast<std::size_t>(c)];
      double logit = static_cast<double>(acc) * scale;
      if (h.bias)
        logit += std::ldexp(static_cast<double>(h.bias->levels[static_cast<std::size_t>(k)]),
                            h.bias->grid.step_exp);
      if (!h.float_bias.empty())
        logit += static_cast<double>(h.float_bias[static_cast<std::size_t>(k)]);
      logits[i * h.classes + k] = logit;
    }
  }
}

bool Engine::throughput_mode(std::int64_t n, bool keep_levels) const {
  return !keep_levels && omp_get_max_threads() > 1 && n >= 2 * kChunk * omp_get_max_threads();
}

void Engine::run_convolutions_only(std::int64_t n) {
  if (throughput_mode(n, false)) {
    const std::int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t q = 0; q < chunks; ++q) {
      Workspace& ws = spaces_[static_cast<std::size_t>(1 + omp_get_thread_num())];
      const std::int64_t m = std::min(kChunk, n - q * kChunk);
      for (std::size_t k = 0; k < model_.convs.size(); ++k) conv(k, m, ws, false, false);
    }
    return;
  }
  for (std::size_t k = 0; k < model_.convs.size(); ++k) conv(k, n, spaces_[0], true, false);
}

void Engine::run_conv(std::size_t index, std::int64_t n) {
  prepare(n);
  conv(index, n, spaces_[0], true);
}

void Engine::set_levels(int tensor, std::int64_t n, const std::vector<std::uint8_t>& levels) {
  MPQ_CHECK(tensor > 0 && tensor < model_.num_tensors, "engine: no activation tensor ", tensor);
  MPQ_CHECK(static_cast<std::int64_t>(levels.size()) == n * shape(tensor).numel(),
            "engine: ", levels.size(), " levels for ", n, " images of tensor ", tensor);
  spaces_[0].buffers[static_cast<std::size_t>(tensor)] = levels;
}

void Engine::frame(const std::uint8_t* images, std::int64_t n, std::int64_t channels,
                   std::int64_t height, std::int64_t width, Workspace& ws) const {
  // Zero pixels around, floor(half) of the margin above and left; NCHW -> NHWC.
  const InputSpec& spec = model_.input;
  std::vector<std::uint8_t>& x = ws.buffers[0];
  x.assign(static_cast<std::size_t>(n * spec.height * spec.width * spec.channels), 0);
  const std::int64_t top = (spec.height - height) / 2, left = (spec.width - width) / 2;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < channels; ++c)
      for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t xx = 0; xx < width; ++xx)
          x[static_cast<std::size_t>(
              ((i * spec.height + y + top) * spec.width + xx + left) * spec.channels + c)] =
              images[((i * channels + c) * height + y) * width + xx];
}

void Engine::run(const std::uint8_t* images, std::int64_t n, std::int64_t channels,
                 std::int64_t height, std::int64_t width, EngineOutput& out, bool keep_levels) {
  const InputSpec& spec = model_.input;
  MPQ_CHECK(n >= 1, "engine: an empty batch");
  MPQ_CHECK(channels == spec.channels, "engine: images of ", channels,
            " channels; the model takes ", spec.channels);
  MPQ_CHECK(height >= 1 && width >= 1 && height <= spec.height && width <= spec.width,
            "engine: images of ", height, "x", width, " do not fit the model's ", spec.height, "x",
            spec.width, " frame");
  out.batch = n;
  out.classes = model_.head.classes;
  out.logits.assign(static_cast<std::size_t>(n * out.classes), 0.0);
  out.levels.clear();
  if (throughput_mode(n, keep_levels)) {
    // Chunks of kChunk images, each through the whole network on one thread.
    const std::int64_t chunks = (n + kChunk - 1) / kChunk;
    prepare(kChunk);
    if (n % kChunk) prepare(n % kChunk);
    const auto threads = static_cast<std::size_t>(omp_get_max_threads());
    if (spaces_.size() < 1 + threads) spaces_.resize(1 + threads);
    for (std::size_t t = 1; t < spaces_.size(); ++t)
      spaces_[t].buffers.resize(static_cast<std::size_t>(model_.num_tensors));
    const std::int64_t per_image = channels * height * width;
    std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t q = 0; q < chunks; ++q) {
      try {
        Workspace& ws = spaces_[static_cast<std::size_t>(1 + omp_get_thread_num())];
        const std::int64_t first = q * kChunk, m = std::min(kChunk, n - first);
        frame(images + first * per_image, m, channels, height, width, ws);
        for (std::size_t k = 0; k < model_.convs.size(); ++k) conv(k, m, ws, false);
        head(m, ws, out.logits.data() + first * out.classes);
      } catch (...) {
#pragma omp critical
        error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
  prepare(n);
  Workspace& ws = spaces_[0];
  frame(images, n, channels, height, width, ws);
  for (std::size_t k = 0; k < model_.convs.size(); ++k) conv(k, n, ws, true);
  head(n, ws, out.logits.data());
  if (keep_levels) out.levels = ws.buffers;
}

}  // namespace mpq::deploy
