// Shapes and strides (in elements), and the broadcasting rules of NumPy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mpq {

using Shape = std::vector<std::int64_t>;
using Strides = std::vector<std::int64_t>;

std::int64_t numel_of(const Shape& shape);
Strides contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3, 4]"

// Result shape of broadcasting a against b; `op` names the caller in errors.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// The axes of `from` that summing reduces to `to`, where `to` broadcasts to
// `from` (leading axes `to` lacks, and axes where `to` has 1): the reduction
// behind the gradient of a broadcast. Errors, naming op, when `to` does not
// broadcast to `from`.
std::vector<std::int64_t> reduced_axes(const Shape& from, const Shape& to, const char* op);

// Wraps a possibly negative axis into [0, ndim); errors name op and ndim.
std::int64_t normalize_axis(std::int64_t axis, std::int64_t ndim, const char* op);

}  // namespace mpq
