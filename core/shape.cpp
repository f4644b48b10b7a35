#include "core/shape.h"

#include <algorithm>
#include <limits>
#include <sstream>

#include "core/error.h"

namespace mpq {

std::int64_t numel_of(const Shape& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

Strides contiguous_strides(const Shape& shape) {
  // A zero dimension counts as 1 (as in PyTorch): the tensor is empty and its
  // strides only need to be valid, and a shape such as [0, 2^40, 2^40] (from a
  // hostile file header) must not overflow the product on its way to being refused.
  Strides s(shape.size());
  std::int64_t acc = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    s[i] = acc;
    const std::int64_t d = std::max<std::int64_t>(shape[i], 1);
    MPQ_CHECK(acc <= std::numeric_limits<std::int64_t>::max() / d, "shape ", shape_str(shape),
              " is too large (its strides overflow 64 bits)");
    acc *= d;
  }
  return s;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    MPQ_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
              " cannot be broadcast (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::int64_t normalize_axis(std::int64_t axis, std::int64_t ndim, const char* op) {
  MPQ_CHECK(axis >= -ndim && axis < ndim, op, ": axis ", axis,
            " is out of range for a tensor with ", ndim, " dimensions");
  return axis < 0 ? axis + ndim : axis;
}

std::vector<std::int64_t> reduced_axes(const Shape& from, const Shape& to, const char* op) {
  MPQ_CHECK(to.size() <= from.size(), op, ": cannot reduce ", shape_str(from), " to ",
            shape_str(to));
  const std::size_t lead = from.size() - to.size();
  std::vector<std::int64_t> axes;
  for (std::size_t i = 0; i < from.size(); ++i) {
    if (i < lead) {
      axes.push_back(static_cast<std::int64_t>(i));
      continue;
    }
    const std::int64_t want = to[i - lead];
    if (want == 1 && from[i] != 1)
      axes.push_back(static_cast<std::int64_t>(i));
    else
      MPQ_CHECK(want == from[i], op, ": cannot reduce ", shape_str(from), " to ", shape_str(to));
  }
  return axes;
}

}  // namespace mpq
