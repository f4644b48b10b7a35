// Geometry of a 2-D convolution (NCHW input, OIHW weight, PyTorch semantics).
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace mpq {

struct Conv2dParams {
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> padding{0, 0};
  std::array<std::int64_t, 2> dilation{1, 1};
  std::int64_t groups = 1;

  // Output extent of one spatial axis.
  std::int64_t out_size(std::int64_t in, std::int64_t kernel, int axis) const {
    return (in + 2 * padding[axis] - dilation[axis] * (kernel - 1) - 1) / stride[axis] + 1;
  }
  std::string str() const;
};

}  // namespace mpq
