// 4-D float32 tensors in either memory layout, for the benchmarks' inputs and
// their float64 references.
//
// mpq's activations are [N, C, H, W] tensors stored row-major (NCHW) or
// channels-last (NHWC strides, core/layout.h; conv2d's kernels read and write
// that layout). The references index elements through the tensor's strides,
// element (n, c, h, w) at data[n s0 + c s1 + h s2 + w s3], so they do not
// depend on the layout a kernel is handed and would catch a kernel that
// assumed the wrong one.
#pragma once

#include <cstdint>

#include "core/layout.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace mpq::bench {

enum class Layout { nchw, nhwc };

inline const char* layout_name(Layout layout) {
  return layout == Layout::nchw ? "nchw" : "nhwc";
}

// Uninitialised [N, C, H, W] float32 tensor stored in `layout`.
inline Tensor empty_in(const Shape& shape, Layout layout) {
  return layout == Layout::nchw ? empty(shape) : empty_channels_last(shape);
}

// N(mean, stddev) values drawn in logical (row-major) order, then stored in
// `layout`: the same seed gives the same logical tensor in both layouts.
inline Tensor randn_in(const Shape& shape, Layout layout, double mean, double stddev,
                       Generator& gen) {
  Tensor t = randn(shape, mean, stddev, gen);
  return layout == Layout::nchw ? t : to_channels_last(t);
}

// Read access to element (n, c, h, w) of a 4-D float32 tensor, any strides.
class Strided4 {
 public:
  explicit Strided4(const Tensor& t)
      : p_(t.data<float>()),
        s0_(t.strides()[0]),
        s1_(t.strides()[1]),
        s2_(t.strides()[2]),
        s3_(t.strides()[3]) {}
  double operator()(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) const {
    return p_[n * s0_ + c * s1_ + h * s2_ + w * s3_];
  }

 private:
  const float* p_;
  std::int64_t s0_, s1_, s2_, s3_;
};

// Splits a logical row-major flat index of an [N, C, H, W] tensor into (n, c, h, w).
struct Index4 {
  std::int64_t n, c, h, w;
};
inline Index4 unflatten(std::int64_t flat, const Shape& s) {
  Index4 i{};
  i.w = flat % s[3];
  flat /= s[3];
  i.h = flat % s[2];
  flat /= s[2];
  i.c = flat % s[1];
  i.n = flat / s[1];
  return i;
}

}  // namespace mpq::bench
