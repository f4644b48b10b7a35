// Plain-loop reference of conv2d and both of its backward passes: the oracle of
// the oneDNN kernels and the float64 path of the gradient checks.
//
// Legend: N batch, C input channels, H W input size, O output channels,
// KH KW kernel, P Q output size, G groups (C/G input and O/G output channels
// per group), s stride, p padding, d dilation.
//   y[n,o,p,q] = b[o] + sum_{c in group(o), i, j} x[n,c, p*s-p+i*d, q*s-p+j*d] w[o,c',i,j]
// dx and dw follow by the chain rule on the same index map; db = sum_{n,p,q} dy.
#pragma once

#include <cstdint>

#include "ops/conv2d_params.h"

namespace mpq::reference {

struct Conv2dDims {
  std::int64_t N, C, H, W, O, KH, KW, P, Q;
};

// Calls f(n, o, p, q, c, cc, i, j, h, w) for every (output, weight, input)
// triple that contributes: c is the input channel, cc the weight's channel
// index inside the group, (h, w) the input pixel under kernel tap (i, j).
template <class F>
void conv2d_for_each(const Conv2dDims& d, const Conv2dParams& prm, F&& f) {
  const std::int64_t cg = d.C / prm.groups, og = d.O / prm.groups;
  for (std::int64_t n = 0; n < d.N; ++n)
    for (std::int64_t o = 0; o < d.O; ++o) {
      const std::int64_t g = o / og;
      for (std::int64_t p = 0; p < d.P; ++p)
        for (std::int64_t q = 0; q < d.Q; ++q)
          for (std::int64_t cc = 0; cc < cg; ++cc)
            for (std::int64_t i = 0; i < d.KH; ++i) {
              const std::int64_t h = p * prm.stride[0] - prm.padding[0] + i * prm.dilation[0];
              if (h < 0 || h >= d.H) continue;
              for (std::int64_t j = 0; j < d.KW; ++j) {
                const std::int64_t w = q * prm.stride[1] - prm.padding[1] + j * prm.dilation[1];
                if (w < 0 || w >= d.W) continue;
                f(n, o, p, q, g * cg + cc, cc, i, j, h, w);
              }
            }
    }
}

// All arrays contiguous: x [N,C,H,W], w [O,C/G,KH,KW], b [O] or null, y [N,O,P,Q].
template <class T>
void conv2d_forward(const Conv2dDims& d, const Conv2dParams& prm, const T* x, const T* w,
                    const T* b, T* y) {
  const std::int64_t cg = d.C / prm.groups;
  for (std::int64_t n = 0; n < d.N; ++n)
    for (std::int64_t o = 0; o < d.O; ++o)
      for (std::int64_t k = 0; k < d.P * d.Q; ++k)
        y[(n * d.O + o) * d.P * d.Q + k] = b ? b[o] : T(0);
  conv2d_for_each(
      d, prm,
      [&](auto n, auto o, auto p, auto q, auto c, auto cc, auto i, auto j, auto h, auto ww) {
        y[((n * d.O + o) * d.P + p) * d.Q + q] +=
            x[((n * d.C + c) * d.H + h) * d.W + ww] * w[((o * cg + cc) * d.KH + i) * d.KW + j];
      });
}

template <class T>
void conv2d_backward_data(const Conv2dDims& d, const Conv2dParams& prm, const T* dy, const T* w,
                          T* dx) {
  const std::int64_t cg = d.C / prm.groups;
  for (std::int64_t k = 0; k < d.N * d.C * d.H * d.W; ++k) dx[k] = T(0);
  conv2d_for_each(
      d, prm,
      [&](auto n, auto o, auto p, auto q, auto c, auto cc, auto i, auto j, auto h, auto ww) {
        dx[((n * d.C + c) * d.H + h) * d.W + ww] +=
            dy[((n * d.O + o) * d.P + p) * d.Q + q] * w[((o * cg + cc) * d.KH + i) * d.KW + j];
      });
}

// dw and db (db may be null) are overwritten.
template <class T>
void conv2d_backward_weights(const Conv2dDims& d, const Conv2dParams& prm, const T* x, const T* dy,
                             T* dw, T* db) {
  const std::int64_t cg = d.C / prm.groups;
  for (std::int64_t k = 0; k < d.O * cg * d.KH * d.KW; ++k) dw[k] = T(0);
  conv2d_for_each(
      d, prm,
      [&](auto n, auto o, auto p, auto q, auto c, auto cc, auto i, auto j, auto h, auto ww) {
        dw[((o * cg + cc) * d.KH + i) * d.KW + j] +=
            dy[((n * d.O + o) * d.P + p) * d.Q + q] * x[((n * d.C + c) * d.H + h) * d.W + ww];
      });
  if (db) {
    for (std::int64_t o = 0; o < d.O; ++o) {
      T acc = 0;
      for (std::int64_t n = 0; n < d.N; ++n)
        for (std::int64_t k = 0; k < d.P * d.Q; ++k) acc += dy[(n * d.O + o) * d.P * d.Q + k];
      db[o] = acc;
    }
  }
}

}  // namespace mpq::reference
