#include "deploy/engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <utility>

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

// A oneDNN convolution of one batch size, with the weights in its layout.
struct ConvPrimitive {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  memory weights;
};

struct Engine::Layer {
  // Per output channel (deploy/requant.h), each table repeating its
  // out_channels values `block` times so that one call of the
  // requantization loop covers `block` pixels:
  //   mul   M (|M| < 2^31: one 32 x 32 -> 64-bit multiply)
  //   pmul  the projection shortcut's M, in the same fixed point
  //   off   R (+ 2^(F-1) for a uniform output: the rounding folded in)
  //   shift F
  //   rshift F + e_res - e_out (an identity or option-A residual)
  std::vector<std::int32_t> mul, pmul;
  std::vector<std::int64_t> off, shift, rshift;
  std::int64_t block = 1;

  // The stem (its input is pixels p; the network's input is
  // (p - mean[c]) / std[c]) runs as one convolution per input channel (a
  // grouped convolution, output channel c * O + o), so that each channel's
  // sums get its own multiplier:
  //   T[o] = sum_c M[c][o] S[c][o] + OFF[o],
  //   OFF  = round((r[o] - sum_c m[c][o] mean[c] B[c][o]) 2^F) (+ 2^(F-1)),
  // B[c][o] the sum of channel c's weight levels over the taps inside the
  // image. B depends on the row only through which kernel rows fall inside
  // (at most 2 kernel + 1 patterns): OFF as rows of [OW, O] per pattern,
  // and each output row's pattern.
  bool stem = false;
  std::vector<std::int32_t> stem_mul;  // [C_in][O]
  std::vector<std::vector<std::int64_t>> stem_off;
  std::vector<std::int32_t> row_pattern;

  std::vector<std::int8_t> weights;     // the primitive's plain (g)oihw levels
  std::vector<std::int8_t> projection;  // the projection's oihw levels
  struct Primitives {
    ConvPrimitive conv, projection;
  };
  std::map<std::int64_t, Primitives> by_batch;
};

namespace {

double pow2(int e) {
  return std::ldexp(1.0, e);
}

ConvPrimitive make_primitive(std::int64_t n, std::int64_t in_c, std::int64_t in_h,
                             std::int64_t in_w, std::int64_t out_c, std::int64_t out_h,
                             std::int64_t out_w, std::int64_t groups, std::int64_t kernel,
                             std::int64_t stride, std::int64_t padding,
                             std::vector<std::int8_t>& levels) {
  const memory::dims src_dims{n, in_c, in_h, in_w};
  const memory::dims dst_dims{n, out_c, out_h, out_w};
  const memory::dims wei_dims =
      groups == 1 ? memory::dims{out_c, in_c, kernel, kernel}
                  : memory::dims{groups, out_c / groups, in_c / groups, kernel, kernel};
  const memory::desc src(src_dims, memory::data_type::u8, memory::format_tag::nhwc);
  const memory::desc dst(dst_dims, memory::data_type::s32, memory::format_tag::nhwc);
  const memory::desc wei_any(wei_dims, memory::data_type::s8, memory::format_tag::any);
  const memory::desc wei_plain(wei_dims, memory::data_type::s8,
                               groups == 1 ? memory::format_tag::oihw : memory::format_tag::goihw);
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                    dnnl::algorithm::convolution_direct, src, wei_any, dst,
                                    {stride, stride}, {padding, padding}, {padding, padding});
  ConvPrimitive p;
  // The caller's scratchpad (one per workspace): threads running the same
  // primitive at once must not share oneDNN's.
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  p.pd = dnnl::convolution_forward::primitive_desc(d, attr, cpu::onednn::engine());
  p.prim = dnnl::convolution_forward(p.pd);
  // The weights once into the primitive's int8 layout (oneDNN copies them).
  memory plain(wei_plain, cpu::onednn::engine(), levels.data());
  p.weights = memory(p.pd.weights_desc(), cpu::onednn::engine());
  cpu::onednn::reorder(plain, p.weights);
  return p;
}

// Runs `p` from `src` into `dst` on the calling thread's stream.
void execute(const ConvPrimitive& p, const std::uint8_t* src, std::int32_t* dst,
             std::vector<std::uint8_t>& scratch) {
  // A stream per call: streams are not shared between threads. Inside a
  // parallel region (throughput mode) oneDNN runs on the calling thread.
  dnnl::stream stream(cpu::onednn::engine());
  const memory::desc scratch_desc = p.pd.scratchpad_desc();
  if (scratch.size() < scratch_desc.get_size()) scratch.resize(scratch_desc.get_size());
  memory s(p.pd.src_desc(), cpu::onednn::engine(), const_cast<std::uint8_t*>(src));
  memory d(p.pd.dst_desc(), cpu::onednn::engine(), dst);
  memory sp(scratch_desc, cpu::onednn::engine(), scratch.data());
  p.prim.execute(stream, {{DNNL_ARG_SRC, s},
                          {DNNL_ARG_WEIGHTS, p.weights},
                          {DNNL_ARG_DST, d},
                          {DNNL_ARG_SCRATCHPAD, sp}});
  stream.wait();
}

// |T| must stay inside int64 (docs/integer.md section 3); `bound` is the
// largest |T| a layer can reach.
void check_range(const ConvNode& c, double bound) {
  MPQ_CHECK(bound < 0x1p62, "engine: layer ", c.name,
            ": its fixed-point requantization could overflow 64 bits (", bound, ")");
}

// One output pixel block's channels onto a uniform grid (deploy/requant.h),
// with the residual (r, shifted) or the projection's sums (p) when given.
// off holds R + 2^(F-1), so that T >> F rounds half away from zero for
// T > 0 and is <= 0 (level 0 after the clamp) otherwise. Each case is one
// plain loop of int64 arithmetic over the values, which the compiler
// vectorises (AVX-512: 64-bit multiplies, per-lane shifts, the narrowing
// store).
void requant_uniform(const std::int32_t* __restrict a, const std::uint8_t* __restrict r,
                     const std::int32_t* __restrict p, const std::int32_t* __restrict mul,
                     const std::int32_t* __restrict pmul, const std::int64_t* __restrict off,
                     const std::int64_t* __restrict shift, const std::int64_t* __restrict rshift,
                     std::int64_t top, std::int64_t n, std::uint8_t* __restrict o) {
  auto store = [top](std::int64_t l) {
    l = l < 0 ? 0 : l;
    return static_cast<std::uint8_t>(l > top ? top : l);
  };
  if (p) {
    for (std::int64_t k = 0; k < n; ++k)
      o[k] =
          store((static_cast<std::int64_t>(a[k]) * static_cast<std::int64_t>(mul[k]) +
                 static_cast<std::int64_t>(p[k]) * static_cast<std::int64_t>(pmul[k]) + off[k]) >>
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

Engine::Engine(IntegerModel model) : model_(std::move(model)) {
  MPQ_CHECK(!model_.float_network, "engine: a float network has no integer form");
  model_.check();
  const IntegerModel& m = model_;
  shapes_.assign(static_cast<std::size_t>(m.num_tensors), TensorShape{});
  shapes_[0] = {m.input.channels, m.input.height, m.input.width};
  pools_after_.resize(m.convs.size());
  for (std::size_t k = 0; k < m.pools.size(); ++k)
    pools_after_[static_cast<std::size_t>(m.pools[k].after)].push_back(k);
  for (std::size_t k = 0; k < m.convs.size(); ++k) {
    const ConvNode& c = m.convs[k];
    const TensorShape& in = shapes_[static_cast<std::size_t>(c.input)];
    shapes_[static_cast<std::size_t>(c.output)] = {
        c.out_channels, (in.height + 2 * c.padding - c.kernel) / c.stride + 1,
        (in.width + 2 * c.padding - c.kernel) / c.stride + 1};
    for (const std::size_t q : pools_after_[k]) {
      const PoolNode& p = m.pools[q];
      const TensorShape& pi = shapes_[static_cast<std::size_t>(p.input)];
      shapes_[static_cast<std::size_t>(p.output)] = {
          pi.channels, (pi.height + 2 * p.padding - p.kernel) / p.stride + 1,
          (pi.width + 2 * p.padding - p.kernel) / p.stride + 1};
    }
  }
  for (const ConvNode& c : m.convs) {
    auto layer = std::make_unique<Layer>();
    const Grid& in_grid = m.tensor_grids[static_cast<std::size_t>(c.input)];
    const int e_out = c.out.step_exp;
    const double w_max = static_cast<double>(c.weight.grid.max_level());
    const TensorShape& os = shapes_[static_cast<std::size_t>(c.output)];
    layer->stem = c.input == 0;
    if (layer->stem) {
      MPQ_CHECK(c.groups == 1, "engine: a grouped stem convolution is not supported");
      MPQ_CHECK(static_cast<double>(c.kernel * c.kernel) * w_max * 255.0 < 0x1p31, "engine: layer ",
                c.name, ": its int32 sums could overflow");
      const std::int64_t ci = c.in_channels, oc = c.out_channels;
      const TensorShape& in = shapes_[0];
      // Weights for the per-channel grouped convolution: group c, output o.
      layer->weights.resize(c.weight.levels.size());
      for (std::int64_t o = 0; o < oc; ++o)
        for (std::int64_t i = 0; i < ci; ++i)
          for (std::int64_t t = 0; t < c.kernel * c.kernel; ++t)
            layer->weights[static_cast<std::size_t>((i * oc + o) * c.kernel * c.kernel + t)] =
                static_cast<std::int8_t>(
                    c.weight
                        .levels[static_cast<std::size_t>((o * ci + i) * c.kernel * c.kernel + t)]);
      // Multipliers m[c][o] = scale[o] 2^(e_w - e_out) / std[c]; F per o.
      std::vector<int> frac(static_cast<std::size_t>(oc));
      std::vector<double> real(static_cast<std::size_t>(ci * oc));
      layer->stem_mul.resize(static_cast<std::size_t>(ci * oc));
      for (std::int64_t o = 0; o < oc; ++o) {
        std::vector<double> ms;
        for (std::int64_t i = 0; i < ci; ++i) {
          const double v = static_cast<double>(c.scale[static_cast<std::size_t>(o)]) *
                           pow2(c.weight.grid.step_exp - e_out) /
                           m.input.std[static_cast<std::size_t>(i)];
          real[static_cast<std::size_t>(i * oc + o)] = v;
          ms.push_back(v);
        }
        const int f = joint_frac_bits(ms);
        frac[static_cast<std::size_t>(o)] = f;
        double bound = 0;
        for (std::int64_t i = 0; i < ci; ++i) {
          const std::int64_t mv =
              to_fixed(real[static_cast<std::size_t>(i * oc + o)], f, 0x1p31, "stem multiplier");
          layer->stem_mul[static_cast<std::size_t>(i * oc + o)] = static_cast<std::int32_t>(mv);
          bound += c.kernel * c.kernel * w_max * 255.0 * std::fabs(static_cast<double>(mv));
        }
        // The offsets below are checked to stay under 2^61.
        check_range(c, bound + 0x1p61);
        layer->shift.push_back(f);
      }
      // OFF per row pattern: which kernel rows fall inside the image. Within
      // a row, OFF depends on the column only through which kernel columns
      // fall inside: computed once per (row, column) pattern, then laid out.
      auto window = [&](std::int64_t pos, std::int64_t size) {
        const std::int64_t first = pos * c.stride - c.padding;
        return std::pair<std::int64_t, std::int64_t>{
            std::max<std::int64_t>(0, -first), std::min<std::int64_t>(c.kernel, size - first)};
      };
      std::map<std::pair<std::int64_t, std::int64_t>, std::int32_t> col_index;
      std::vector<std::pair<std::int64_t, std::int64_t>> col_windows;
      std::vector<std::int32_t> col_pattern;
      for (std::int64_t x = 0; x < os.width; ++x) {
        const auto w = window(x, in.width);
        const auto [it, added] =
            col_index.try_emplace(w, static_cast<std::int32_t>(col_windows.size()));
        if (added) col_windows.push_back(w);
        col_pattern.push_back(it->second);
      }
      std::map<std::pair<std::int64_t, std::int64_t>, std::int32_t> patterns;
      for (std::int64_t y = 0; y < os.height; ++y) {
        const auto [ky0, ky1] = window(y, in.height);
        const auto [it, added] =
            patterns.try_emplace({ky0, ky1}, static_cast<std::int32_t>(layer->stem_off.size()));
        layer->row_pattern.push_back(it->second);
        if (!added) continue;
        const double bytes =
            static_cast<double>(patterns.size() * col_windows.size()) +
            static_cast<double>(patterns.size()) * static_cast<double>(os.width * oc) * 8.0;
        MPQ_CHECK(bytes < 0x1p28, "engine: layer ", c.name, ": the stem's offset table would take ",
                  bytes / 1048576.0, " MiB");
        // OFF of each column pattern of this row pattern.
        std::vector<std::int64_t> per_col(col_windows.size() * static_cast<std::size_t>(oc));
        for (std::size_t cp = 0; cp < col_windows.size(); ++cp) {
          const auto [kx0, kx1] = col_windows[cp];
          for (std::int64_t o = 0; o < oc; ++o) {
            double corr = 0;  // sum_c m[c][o] mean[c] B[c][o]
            for (std::int64_t i = 0; i < ci; ++i) {
              std::int64_t b = 0;
              for (std::int64_t ky = ky0; ky < ky1; ++ky)
                for (std::int64_t kx = kx0; kx < kx1; ++kx)
                  b += c.weight.levels[static_cast<std::size_t>(
                      ((o * ci + i) * c.kernel + ky) * c.kernel + kx)];
              corr += real[static_cast<std::size_t>(i * oc + o)] *
                      m.input.mean[static_cast<std::size_t>(i)] * static_cast<double>(b);
            }
            const int f = frac[static_cast<std::size_t>(o)];
            const double r =
                static_cast<double>(c.shift[static_cast<std::size_t>(o)]) * pow2(-e_out);
            std::int64_t v = to_fixed(r - corr, f, 0x1p61, "stem offset");
            if (c.out.kind == GridKind::uniform) v += std::int64_t{1} << (f - 1);
            per_col[cp * static_cast<std::size_t>(oc) + static_cast<std::size_t>(o)] = v;
          }
        }
        std::vector<std::int64_t> row(static_cast<std::size_t>(os.width * oc));
        for (std::int64_t x = 0; x < os.width; ++x)
          std::copy_n(per_col.begin() + col_pattern[static_cast<std::size_t>(x)] * oc, oc,
                      row.begin() + x * oc);
        layer->stem_off.push_back(std::move(row));
      }
      // Blocks of pixels inside one output row (about 1024 values), the
      // per-channel tables repeated for them (mul: the one-channel case).
      while (layer->block * oc < 1024 && os.width % (2 * layer->block) == 0) layer->block *= 2;
      const std::vector<std::int64_t> shifts = layer->shift;
      for (std::int64_t q = 1; q < layer->block; ++q)
        layer->shift.insert(layer->shift.end(), shifts.begin(), shifts.end());
      if (ci == 1)
        for (std::int64_t q = 0; q < layer->block; ++q)
          layer->mul.insert(layer->mul.end(), layer->stem_mul.begin(), layer->stem_mul.end());
      layers_.push_back(std::move(layer));
      continue;
    }

    const double taps = static_cast<double>(c.in_channels / c.groups * c.kernel * c.kernel);
    const double in_scale = pow2(in_grid.step_exp - e_out);
    const Grid* res_grid =
        c.residual ? &m.tensor_grids[static_cast<std::size_t>(c.residual->tensor)] : nullptr;
    for (std::int64_t o = 0; o < c.out_channels; ++o) {
      const auto k = static_cast<std::size_t>(o);
      const double mult = static_cast<double>(c.scale[k]) * pow2(c.weight.grid.step_exp) * in_scale;
      double r = static_cast<double>(c.shift[k]) * pow2(-e_out);
      double pmult = 0;
      if (c.projection) {
        // y += pscale (step_pw step_res S_p) + pshift
        pmult = static_cast<double>(c.projection->scale[k]) *
                pow2(c.projection->weight.grid.step_exp + res_grid->step_exp - e_out);
        r += static_cast<double>(c.projection->shift[k]) * pow2(-e_out);
      }
      // oneDNN sums in int32: |S| <= taps max|w| max|x| must stay below 2^31.
      MPQ_CHECK(taps * w_max * static_cast<double>(in_grid.max_level()) < 0x1p31, "engine: layer ",
                c.name, ": ", taps, " taps of levels up to ", w_max, " x ", in_grid.max_level(),
                " could overflow the int32 sums");
      if (c.projection) {
        const Projection& p = *c.projection;
        MPQ_CHECK(static_cast<double>(p.weight.shape[1] * p.kernel * p.kernel) *
                          static_cast<double>(p.weight.grid.max_level()) *
                          static_cast<double>(res_grid->max_level()) <
                      0x1p31,
                  "engine: layer ", c.name, ": the projection's int32 sums could overflow");
      }
      const int f = joint_frac_bits({mult, pmult});
      const std::int64_t mv = to_fixed(mult, f, 0x1p31, "multiplier");
      const std::int64_t pv = to_fixed(pmult, f, 0x1p31, "projection multiplier");
      const std::int64_t rv = to_fixed(r, f, 0x1p61, "offset");
      double bound = taps * w_max * static_cast<double>(in_grid.max_level()) *
                         std::fabs(static_cast<double>(mv)) +
                     std::fabs(static_cast<double>(rv));
      int res_shift = 0;
      if (c.projection) {
        const Projection& p = *c.projection;
        bound += static_cast<double>(p.weight.shape[1] * p.kernel * p.kernel) *
                 static_cast<double>(p.weight.grid.max_level()) *
                 static_cast<double>(res_grid->max_level()) * std::fabs(static_cast<double>(pv));
      } else if (c.residual) {
        res_shift = f + res_grid->step_exp - e_out;
        MPQ_CHECK(res_shift >= 0 && res_shift <= 62, "engine: layer ", c.name,
                  ": the residual's step 2^", res_grid->step_exp,
                  " cannot be aligned to the output's 2^", e_out,
                  " by a shift of the fixed point (", res_shift, " bits)");
        bound += static_cast<double>(res_grid->max_level()) * pow2(res_shift);
      }
      check_range(c, bound);
      layer->mul.push_back(static_cast<std::int32_t>(mv));
      layer->pmul.push_back(static_cast<std::int32_t>(pv));
      layer->off.push_back(rv + (c.out.kind == GridKind::uniform ? std::int64_t{1} << (f - 1) : 0));
      layer->shift.push_back(f);
      layer->rshift.push_back(res_shift);
    }
    // block pixels of out_channels values: about 1024 per loop (fewer calls;
    // the tables stay in L1), and a divisor of the output plane (a block
    // never spans two images).
    while (layer->block * c.out_channels < 1024 && (os.height * os.width) % (2 * layer->block) == 0)
      layer->block *= 2;
    auto repeat = [block = layer->block](auto& v) {
      const auto one = v;
      for (std::int64_t q = 1; q < block; ++q) v.insert(v.end(), one.begin(), one.end());
    };
    repeat(layer->mul);
    repeat(layer->pmul);
    repeat(layer->off);
    repeat(layer->shift);
    repeat(layer->rshift);
    layer->weights.resize(c.weight.levels.size());
    for (std::size_t i = 0; i < c.weight.levels.size(); ++i)
      layer->weights[i] = static_cast<std::int8_t>(c.weight.levels[i]);
    if (c.projection)
      for (const std::int32_t l : c.projection->weight.levels)
        layer->projection.push_back(static_cast<std::int8_t>(l));
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
    if (c.projection) macs += o.numel() * c.projection->weight.numel() / c.out_channels;
  }
  return macs + model_.head.weight.numel();
}

void Engine::prepare(std::int64_t n) {
  for (std::size_t index = 0; index < model_.convs.size(); ++index) {
    const ConvNode& c = model_.convs[index];
    Layer& layer = *layers_[index];
    if (layer.by_batch.count(n)) continue;
    const TensorShape& is = shapes_[static_cast<std::size_t>(c.input)];
    const TensorShape& os = shapes_[static_cast<std::size_t>(c.output)];
    Layer::Primitives p;
    if (layer.stem) {
      // One group per input channel: out_channels outputs each.
      p.conv = make_primitive(n, is.channels, is.height, is.width, is.channels * c.out_channels,
                              os.height, os.width, is.channels, c.kernel, c.stride, c.padding,
                              layer.weights);
    } else {
      p.conv = make_primitive(n, is.channels, is.height, is.width, os.channels, os.height, os.width,
                              c.groups, c.kernel, c.stride, c.padding, layer.weights);
    }
    if (c.projection) {
      const TensorShape& rs = shapes_[static_cast<std::size_t>(c.residual->tensor)];
      p.projection = make_primitive(n, rs.channels, rs.height, rs.width, os.channels, os.height,
                                    os.width, 1, c.projection->kernel, c.projection->stride,
                                    c.projection->padding, layer.projection);
    }
    layer.by_batch.emplace(n, std::move(p));
  }
}

void Engine::conv(std::size_t index, std::int64_t n, Workspace& ws, bool parallel, bool requant) {
  const ConvNode& c = model_.convs[index];
  Layer& layer = *layers_[index];
  const TensorShape& os = shapes_[static_cast<std::size_t>(c.output)];
  const auto it = layer.by_batch.find(n);
  MPQ_CHECK(it != layer.by_batch.end(), "engine: no primitive for a batch of ", n);
  const Layer::Primitives& prim = it->second;
  const std::int64_t rows = n * os.height * os.width;  // output pixels
  const std::int64_t oc = os.channels;
  const std::int64_t acc_channels = layer.stem ? c.in_channels * oc : oc;
  // Sums of the largest layer so far (never shrinks).
  if (ws.acc.size() < static_cast<std::size_t>(rows * acc_channels))
    ws.acc.resize(static_cast<std::size_t>(rows * acc_channels));
  std::vector<std::uint8_t>& out_buf = ws.buffers[static_cast<std::size_t>(c.output)];
  out_buf.resize(static_cast<std::size_t>(rows * oc));
  execute(prim.conv, ws.buffers[static_cast<std::size_t>(c.input)].data(), ws.acc.data(),
          ws.scratch);
  if (c.projection) {
    if (ws.pacc.size() < static_cast<std::size_t>(rows * oc))
      ws.pacc.resize(static_cast<std::size_t>(rows * oc));
    execute(prim.projection, ws.buffers[static_cast<std::size_t>(c.residual->tensor)].data(),
            ws.pacc.data(), ws.scratch);
  }
  if (!requant) return;

  const std::int32_t* acc = ws.acc.data();
  std::uint8_t* out = out_buf.data();
  const Grid& g = c.out;
  const std::int64_t plane = os.height * os.width;
  if (layer.stem) {
    // T[o] = OFF[o] + sum_c M[c][o] S[c][o] (see Layer), in blocks of
    // `block` pixels of one output row (OFF is stored per row).
    const std::int64_t ci = c.in_channels, block = layer.block;
    const bool uniform = g.kind == GridKind::uniform;
#pragma omp parallel if (parallel)
    {
      std::vector<std::int64_t> t(static_cast<std::size_t>(block * oc));
#pragma omp for schedule(static)
      for (std::int64_t row = 0; row < rows; row += block) {
        const std::int64_t pix = row % plane;
        const std::int64_t* offs =
            layer
                .stem_off[static_cast<std::size_t>(
                    layer.row_pattern[static_cast<std::size_t>(pix / os.width)])]
                .data() +
            (pix % os.width) * oc;
        const std::int32_t* a = acc + row * ci * oc;
        std::uint8_t* o = out + row * oc;
        if (ci == 1 && uniform) {
          // One input channel: the tables of the other layers, OFF per position.
          requant_uniform(a, nullptr, nullptr, layer.mul.data(), nullptr, offs, layer.shift.data(),
                          nullptr, g.top, block * oc, o);
          continue;
        }
        for (std::int64_t q = 0; q < block; ++q) {
          std::int64_t* tq = t.data() + q * oc;
          for (std::int64_t k = 0; k < oc; ++k) tq[k] = offs[q * oc + k];
          for (std::int64_t i = 0; i < ci; ++i) {
            const std::int32_t* ai = a + (q * ci + i) * oc;
            const std::int32_t* mi = layer.stem_mul.data() + i * oc;
            for (std::int64_t k = 0; k < oc; ++k)
              tq[k] += static_cast<std::int64_t>(ai[k]) * static_cast<std::int64_t>(mi[k]);
          }
        }
        if (uniform) {
          const std::int64_t top = g.top;
          const std::int64_t* sh = layer.shift.data();
          for (std::int64_t k = 0; k < block * oc; ++k) {
            std::int64_t l = t[static_cast<std::size_t>(k)] >> sh[k];
            l = l < 0 ? 0 : l;
            o[k] = static_cast<std::uint8_t>(l > top ? top : l);
          }
        } else {
          for (std::int64_t k = 0; k < block * oc; ++k)
            o[k] = static_cast<std::uint8_t>(requantize_pow2(
                t[static_cast<std::size_t>(k)],
                static_cast<int>(layer.shift[static_cast<std::size_t>(k)]), g.top, g.with_zero));
        }
      }
    }
    return;
  }

  // Requantization (deploy/requant.h) in blocks of `block` pixels.
  const std::uint8_t* res = nullptr;
  TensorShape rs;
  std::int64_t rstride = 1, roff = 0;
  if (c.residual && !c.projection) {
    res = ws.buffers[static_cast<std::size_t>(c.residual->tensor)].data();
    rs = shapes_[static_cast<std::size_t>(c.residual->tensor)];
    rstride = c.residual->stride;
    roff = c.residual->channel_offset;
  }
  // An identity shortcut (same shape, no offset) is read where it lies.
  const bool identity = res && rstride == 1 && roff == 0 && rs.channels == oc;
  const std::int32_t* pacc = c.projection ? ws.pacc.data() : nullptr;
  const std::int64_t block = layer.block;
  const bool uniform = g.kind == GridKind::uniform;
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
      const std::int32_t* p = pacc ? pacc + row * oc : nullptr;
      if (uniform) {
        requant_uniform(a, r, p, layer.mul.data(), layer.pmul.data(), layer.off.data(),
                        layer.shift.data(), layer.rshift.data(), g.top, block * oc, o);
      } else {
        for (std::int64_t k = 0; k < block * oc; ++k) {
          std::int64_t t =
              static_cast<std::int64_t>(a[k]) * layer.mul[static_cast<std::size_t>(k)] +
              layer.off[static_cast<std::size_t>(k)];
          if (p) t += static_cast<std::int64_t>(p[k]) * layer.pmul[static_cast<std::size_t>(k)];
          if (r) t += static_cast<std::int64_t>(r[k]) << layer.rshift[static_cast<std::size_t>(k)];
          o[k] = static_cast<std::uint8_t>(requantize_pow2(
              t, static_cast<int>(layer.shift[static_cast<std::size_t>(k)]), g.top, g.with_zero));
        }
      }
    }
  }
}

void Engine::pool(std::size_t index, std::int64_t n, Workspace& ws, bool parallel) const {
  // Max pooling of levels: the grid's order is the values' order, so the
  // largest level is the level of the largest value (padding never wins).
  const PoolNode& p = model_.pools[index];
  const TensorShape& is = shapes_[static_cast<std::size_t>(p.input)];
  const TensorShape& os = shapes_[static_cast<std::size_t>(p.output)];
  const std::vector<std::uint8_t>& in = ws.buffers[static_cast<std::size_t>(p.input)];
  std::vector<std::uint8_t>& out = ws.buffers[static_cast<std::size_t>(p.output)];
  out.resize(static_cast<std::size_t>(n * os.numel()));
  const std::int64_t c = is.channels;
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t row = 0; row < n * os.height; ++row) {
    const std::int64_t img = row / os.height, y = row % os.height;
    for (std::int64_t x = 0; x < os.width; ++x) {
      std::uint8_t* o = out.data() + ((img * os.height + y) * os.width + x) * c;
      std::fill(o, o + c, std::uint8_t{0});
      for (std::int64_t ky = 0; ky < p.kernel; ++ky) {
        const std::int64_t iy = y * p.stride - p.padding + ky;
        if (iy < 0 || iy >= is.height) continue;
        for (std::int64_t kx = 0; kx < p.kernel; ++kx) {
          const std::int64_t ix = x * p.stride - p.padding + kx;
          if (ix < 0 || ix >= is.width) continue;
          const std::uint8_t* v = in.data() + ((img * is.height + iy) * is.width + ix) * c;
          for (std::int64_t ch = 0; ch < c; ++ch) o[ch] = std::max(o[ch], v[ch]);
        }
      }
    }
  }
}

void Engine::step(std::size_t index, std::int64_t n, Workspace& ws, bool parallel) {
  conv(index, n, ws, parallel);
  for (const std::size_t k : pools_after_[index]) pool(k, n, ws, parallel);
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
    prepare(kChunk);
    if (n % kChunk) prepare(n % kChunk);
    ensure_thread_spaces();
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t q = 0; q < chunks; ++q) {
      Workspace& ws = spaces_[static_cast<std::size_t>(1 + omp_get_thread_num())];
      const std::int64_t m = std::min(kChunk, n - q * kChunk);
      size_inputs(m, ws);
      for (std::size_t k = 0; k < model_.convs.size(); ++k) conv(k, m, ws, false, false);
    }
    return;
  }
  prepare(n);
  size_inputs(n, spaces_[0]);
  for (std::size_t k = 0; k < model_.convs.size(); ++k) conv(k, n, spaces_[0], true, false);
}

void Engine::ensure_thread_spaces() {
  const auto threads = static_cast<std::size_t>(omp_get_max_threads());
  if (spaces_.size() < 1 + threads) spaces_.resize(1 + threads);
  for (std::size_t t = 1; t < spaces_.size(); ++t)
    spaces_[t].buffers.resize(static_cast<std::size_t>(model_.num_tensors));
}

void Engine::size_inputs(std::int64_t n, Workspace& ws) const {
  // Every tensor a conv reads holds n images (whatever their levels): the
  // convolutions alone do not write tensor 0 or the pools' outputs.
  for (int t = 0; t < model_.num_tensors; ++t) {
    std::vector<std::uint8_t>& b = ws.buffers[static_cast<std::size_t>(t)];
    const auto want = static_cast<std::size_t>(n * shape(t).numel());
    if (b.size() < want) b.resize(want);
  }
}

void Engine::run_conv(std::size_t index, std::int64_t n) {
  prepare(n);
  conv(index, n, spaces_[0], true);
}

void Engine::run_pool(std::size_t index, std::int64_t n) {
  pool(index, n, spaces_[0], true);
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
    ensure_thread_spaces();
    const std::int64_t per_image = channels * height * width;
    std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t q = 0; q < chunks; ++q) {
      try {
        Workspace& ws = spaces_[static_cast<std::size_t>(1 + omp_get_thread_num())];
        const std::int64_t first = q * kChunk, m = std::min(kChunk, n - first);
        frame(images + first * per_image, m, channels, height, width, ws);
        for (std::size_t k = 0; k < model_.convs.size(); ++k) step(k, m, ws, false);
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
  for (std::size_t k = 0; k < model_.convs.size(); ++k) step(k, n, ws, true);
  head(n, ws, out.logits.data());
  if (keep_levels) out.levels = ws.buffers;
}

}  // namespace mpq::deploy
