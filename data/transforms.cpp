#include "data/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace mpq::data {

namespace {

// x viewed as P planes of H x W (P = product of the leading axes).
struct Planes {
  Tensor x;  // contiguous
  Shape lead;
  std::int64_t planes, h, w;
};

Planes as_planes(const Tensor& x, const char* op) {
  MPQ_CHECK(x.dim() >= 2, op, ": expected an image [..., H, W], got ", shape_str(x.shape()));
  Planes p;
  p.x = x.detach().contiguous();
  p.lead.assign(x.shape().begin(), x.shape().end() - 2);
  p.h = x.shape()[x.dim() - 2];
  p.w = x.shape()[x.dim() - 1];
  p.planes = numel_of(p.lead);
  return p;
}

Shape with_hw(const Shape& lead, std::int64_t h, std::int64_t w) {
  Shape s = lead;
  s.push_back(h);
  s.push_back(w);
  return s;
}

void check_f32(const Tensor& x, const char* op) {
  MPQ_CHECK(x.dtype() == DType::f32, op, ": expected a float32 image, got ", dtype_name(x.dtype()),
            " (convert uint8 images with to_float32 first)");
}

// Python's int(round(v)): halves go to the even neighbour (the default
// floating-point rounding mode).
std::int64_t round_half_even(double v) {
  return static_cast<std::int64_t>(std::nearbyint(v));
}

}  // namespace

// ---- values -----------------------------------------------------------------

Tensor to_float32(const Tensor& x) {
  return (x.dtype() == DType::f32 ? x.detach() : x.detach().to(DType::f32)).contiguous();
}

Tensor normalize(const Tensor& x, const std::vector<float>& mean,
                 const std::vector<float>& stddev) {
  check_f32(x, "normalize");
  MPQ_CHECK(x.dim() >= 3, "normalize: expected [C, H, W] or [N, C, H, W], got ",
            shape_str(x.shape()));
  const std::int64_t c = x.shape()[x.dim() - 3];
  MPQ_CHECK(
      static_cast<std::int64_t>(mean.size()) == c && static_cast<std::int64_t>(stddev.size()) == c,
      "normalize: ", c, " channels but ", mean.size(), " means and ", stddev.size(),
      " standard deviations");
  for (float s : stddev) MPQ_CHECK(s > 0, "normalize: standard deviation ", s, " is not positive");
  const Planes p = as_planes(x, "normalize");
  Tensor out = empty(x.shape(), DType::f32);
  const float* in = p.x.data<float>();
  float* o = out.data<float>();
  const std::int64_t hw = p.h * p.w;
  for (std::int64_t q = 0; q < p.planes; ++q) {
    const float m = mean[static_cast<std::size_t>(q % c)];
    const float inv = 1.0f / stddev[static_cast<std::size_t>(q % c)];
    for (std::int64_t k = q * hw; k < (q + 1) * hw; ++k) o[k] = (in[k] - m) * inv;
  }
  return out;
}

Tensor normalize_pm1(const Tensor& x) {
  check_f32(x, "normalize_pm1");
  const Tensor in = x.detach().contiguous();
  Tensor out = empty(x.shape(), DType::f32);
  const float* a = in.data<float>();
  float* o = out.data<float>();
  for (std::int64_t k = 0; k < in.numel(); ++k) o[k] = (a[k] / 255.0f - 0.5f) * 2.0f;
  return out;
}

// ---- geometry -----------------------------------------------------------------

Tensor horizontal_flip(const Tensor& x) {
  const Planes p = as_planes(x, "horizontal_flip");
  Tensor out = empty(x.shape(), x.dtype());
  const std::size_t es = dtype_size(x.dtype());
  const auto* in = static_cast<const unsigned char*>(p.x.raw_data());
  auto* o = static_cast<unsigned char*>(out.raw_data());
  const std::int64_t rows = p.planes * p.h;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < p.w; ++c)
      std::memcpy(o + (r * p.w + c) * es, in + (r * p.w + (p.w - 1 - c)) * es, es);
  return out;
}

Tensor random_horizontal_flip(const Tensor& x, Generator& gen, double p) {
  // u >= 1 - p rather than torchvision's u < p: the same probability, and for
  // p = 1/2 the same draw as below(2) == 1 (both test the word's top bit), so
  // a pipeline written either way gives the same flips.
  return gen.uniform() >= 1.0 - p ? horizontal_flip(x) : x.detach().contiguous();
}

Tensor pad_crop(const Tensor& x, std::int64_t padding, std::int64_t top, std::int64_t left,
                std::int64_t height, std::int64_t width) {
  const Planes p = as_planes(x, "pad_crop");
  MPQ_CHECK(padding >= 0 && height > 0 && width > 0 && top >= 0 && left >= 0 &&
                top + height <= p.h + 2 * padding && left + width <= p.w + 2 * padding,
            "pad_crop: window ", height, "x", width, " at (", top, ", ", left,
            ") does not fit the image ", p.h, "x", p.w, " padded by ", padding);
  Tensor out = zeros(with_hw(p.lead, height, width), x.dtype());
  const std::size_t es = dtype_size(x.dtype());
  const auto* in = static_cast<const unsigned char*>(p.x.raw_data());
  auto* o = static_cast<unsigned char*>(out.raw_data());
  // Output column c reads input column left + c - padding; the valid ones are
  // a contiguous range [c0, c1), copied with one memcpy per row.
  const std::int64_t c0 = std::max<std::int64_t>(0, padding - left);
  const std::int64_t c1 = std::min<std::int64_t>(width, p.w + padding - left);
  if (c1 <= c0) return out;
  for (std::int64_t q = 0; q < p.planes; ++q)
    for (std::int64_t r = 0; r < height; ++r) {
      const std::int64_t sr = top + r - padding;
      if (sr < 0 || sr >= p.h) continue;
      std::memcpy(o + ((q * height + r) * width + c0) * es,
                  in + ((q * p.h + sr) * p.w + left + c0 - padding) * es,
                  static_cast<std::size_t>(c1 - c0) * es);
    }
  return out;
}

Tensor crop(const Tensor& x, std::int64_t top, std::int64_t left, std::int64_t height,
            std::int64_t width) {
  return pad_crop(x, 0, top, left, height, width);
}

Tensor random_crop(const Tensor& x, std::int64_t size, std::int64_t padding, Generator& gen) {
  MPQ_CHECK(x.dim() >= 2, "random_crop: expected an image [..., H, W], got ", shape_str(x.shape()));
  const std::int64_t ph = x.shape()[x.dim() - 2] + 2 * padding;
  const std::int64_t pw = x.shape()[x.dim() - 1] + 2 * padding;
  MPQ_CHECK(size > 0 && padding >= 0 && size <= ph && size <= pw, "random_crop: crop ", size, "x",
            size, " larger than the padded image ", ph, "x", pw);
  const auto top = static_cast<std::int64_t>(gen.below(static_cast<std::uint64_t>(ph - size + 1)));
  const auto left = static_cast<std::int64_t>(gen.below(static_cast<std::uint64_t>(pw - size + 1)));
  return pad_crop(x, padding, top, left, size, size);
}

Tensor center_crop(const Tensor& x, std::int64_t height, std::int64_t width) {
  MPQ_CHECK(x.dim() >= 2, "center_crop: expected an image [..., H, W], got ", shape_str(x.shape()));
  MPQ_CHECK(height > 0 && width > 0, "center_crop: crop ", height, "x", width, " is empty");
  std::int64_t h = x.shape()[x.dim() - 2], w = x.shape()[x.dim() - 1];
  Tensor in = x;
  if (height > h || width > w) {
    // Zero rows (columns) added: floor(half) before, the rest after, as
    // torchvision pads. pad_crop pads all sides by `p`; the window starts
    // where the image's first row lands `ph / 2` rows below its top.
    const std::int64_t ph = std::max<std::int64_t>(0, height - h);
    const std::int64_t pw = std::max<std::int64_t>(0, width - w);
    const std::int64_t p = std::max(ph, pw);
    in = pad_crop(x, p, p - ph / 2, p - pw / 2, h + ph, w + pw);
    h += ph;
    w += pw;
  }
  return crop(in, round_half_even((h - height) / 2.0), round_half_even((w - width) / 2.0), height,
              width);
}

namespace {
// Source taps of one output axis: out[d] = w0[d] in[i0[d]] + w1[d] in[i1[d]].
struct Taps {
  std::vector<std::int64_t> i0, i1;
  std::vector<float> w0, w1;
};

Taps bilinear_taps(std::int64_t in, std::int64_t out) {
  Taps t;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (std::int64_t d = 0; d < out; ++d) {
    const double s = std::max(0.0, (static_cast<double>(d) + 0.5) * scale - 0.5);
    const auto lo = std::min(static_cast<std::int64_t>(s), in - 1);
    const std::int64_t hi = std::min(lo + 1, in - 1);
    const double frac = std::min(1.0, s - static_cast<double>(lo));
    t.i0.push_back(lo);
    t.i1.push_back(hi);
    t.w0.push_back(static_cast<float>(1.0 - frac));
    t.w1.push_back(static_cast<float>(frac));
  }
  return t;
}
}  // namespace

Tensor resize_bilinear(const Tensor& x, std::int64_t height, std::int64_t width) {
  check_f32(x, "resize_bilinear");
  const Planes p = as_planes(x, "resize_bilinear");
  MPQ_CHECK(height > 0 && width > 0 && p.h > 0 && p.w > 0, "resize_bilinear: cannot resize ", p.h,
            "x", p.w, " to ", height, "x", width);
  const Taps ty = bilinear_taps(p.h, height), tx = bilinear_taps(p.w, width);
  Tensor out = empty(with_hw(p.lead, height, width), DType::f32);
  const float* in = p.x.data<float>();
  float* o = out.data<float>();
  for (std::int64_t q = 0; q < p.planes; ++q) {
    const float* plane = in + q * p.h * p.w;
    for (std::int64_t y = 0; y < height; ++y) {
      const float* r0 = plane + ty.i0[y] * p.w;
      const float* r1 = plane + ty.i1[y] * p.w;
      float* orow = o + (q * height + y) * width;
      for (std::int64_t c = 0; c < width; ++c) {
        const float top = tx.w0[c] * r0[tx.i0[c]] + tx.w1[c] * r0[tx.i1[c]];
        const float bottom = tx.w0[c] * r1[tx.i0[c]] + tx.w1[c] * r1[tx.i1[c]];
        orow[c] = ty.w0[y] * top + ty.w1[y] * bottom;
      }
    }
  }
  return out;
}

Tensor resize_shorter_side(const Tensor& x, std::int64_t size) {
  MPQ_CHECK(x.dim() >= 2, "resize_shorter_side: expected an image [..., H, W], got ",
            shape_str(x.shape()));
  MPQ_CHECK(size > 0, "resize_shorter_side: size ", size, " is not positive");
  const std::int64_t h = x.shape()[x.dim() - 2], w = x.shape()[x.dim() - 1];
  MPQ_CHECK(h > 0 && w > 0, "resize_shorter_side: empty image ", shape_str(x.shape()));
  const std::int64_t shorter = std::min(h, w), longer = std::max(h, w);
  const std::int64_t new_long = size * longer / shorter;  // floor, as int() in torchvision
  const std::int64_t nh = h <= w ? size : new_long;
  const std::int64_t nw = h <= w ? new_long : size;
  if (nh == h && nw == w) {
    check_f32(x, "resize_shorter_side");
    return x.detach().contiguous();
  }
  return resize_bilinear(x, nh, nw);
}

CropBox random_resized_crop_box(std::int64_t height, std::int64_t width, Generator& gen,
                                std::pair<double, double> scale, std::pair<double, double> ratio) {
  MPQ_CHECK(height > 0 && width > 0, "random_resized_crop: empty image ", height, "x", width);
  MPQ_CHECK(0 < scale.first && scale.first <= scale.second && 0 < ratio.first &&
                ratio.first <= ratio.second,
            "random_resized_crop: need 0 < scale.first <= scale.second and 0 < ratio.first <= "
            "ratio.second, got scale (",
            scale.first, ", ", scale.second, "), ratio (", ratio.first, ", ", ratio.second, ")");
  const double area = static_cast<double>(height) * static_cast<double>(width);
  const double log_r0 = std::log(ratio.first), log_r1 = std::log(ratio.second);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * gen.uniform(scale.first, scale.second);
    const double aspect = std::exp(gen.uniform(log_r0, log_r1));
    const std::int64_t w = round_half_even(std::sqrt(target_area * aspect));
    const std::int64_t h = round_half_even(std::sqrt(target_area / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const auto top =
          static_cast<std::int64_t>(gen.below(static_cast<std::uint64_t>(height - h + 1)));
      const auto left =
          static_cast<std::int64_t>(gen.below(static_cast<std::uint64_t>(width - w + 1)));
      return {top, left, h, w};
    }
  }
  // Fallback: the whole image, cut to the nearest allowed aspect ratio, centred.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  std::int64_t w = width, h = height;
  if (in_ratio < ratio.first) {
    h = round_half_even(static_cast<double>(w) / ratio.first);
  } else if (in_ratio > ratio.second) {
    w = round_half_even(static_cast<double>(h) * ratio.second);
  }
  h = std::clamp<std::int64_t>(h, 1, height);
  w = std::clamp<std::int64_t>(w, 1, width);
  return {(height - h) / 2, (width - w) / 2, h, w};
}

Tensor random_resized_crop(const Tensor& x, std::int64_t size, Generator& gen,
                           std::pair<double, double> scale, std::pair<double, double> ratio) {
  check_f32(x, "random_resized_crop");
  MPQ_CHECK(x.dim() >= 2, "random_resized_crop: expected an image [..., H, W], got ",
            shape_str(x.shape()));
  MPQ_CHECK(size > 0, "random_resized_crop: size ", size, " is not positive");
  const CropBox b =
      random_resized_crop_box(x.shape()[x.dim() - 2], x.shape()[x.dim() - 1], gen, scale, ratio);
  return resize_bilinear(crop(x, b.top, b.left, b.height, b.width), size, size);
}

// ---- pipelines ----------------------------------------------------------------

Transform cifar_train_transform() {
  return [](const Tensor& image, Generator& gen) {
    // Crop and flip on uint8 (a quarter of the bytes), then convert once.
    Tensor x = random_horizontal_flip(random_crop(image, 32, 4, gen), gen);
    return normalize_pm1(to_float32(x));
  };
}

Transform cifar_eval_transform() {
  return [](const Tensor& image, Generator&) { return normalize_pm1(to_float32(image)); };
}

namespace {
// x / 255, then the ImageNet channel statistics: (x / 255 - mean) / std
// = (x - 255 mean) / (255 std).
Tensor normalize_imagenet(const Tensor& x) {
  std::vector<float> mean(3), stddev(3);
  for (std::size_t c = 0; c < 3; ++c) {
    mean[c] = 255.0f * kImageNetMean[c];
    stddev[c] = 255.0f * kImageNetStd[c];
  }
  return normalize(x, mean, stddev);
}
}  // namespace

Transform imagenet_train_transform(std::int64_t size) {
  return [size](const Tensor& image, Generator& gen) {
    Tensor x = random_resized_crop(to_float32(image), size, gen);
    return normalize_imagenet(random_horizontal_flip(x, gen));
  };
}

Transform imagenet_eval_transform(std::int64_t resize, std::int64_t crop) {
  return [resize, crop](const Tensor& image, Generator&) {
    Tensor x = resize_shorter_side(to_float32(image), resize);
    return normalize_imagenet(center_crop(x, crop, crop));
  };
}

}  // namespace mpq::data
