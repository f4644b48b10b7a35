// Strided element copy with dtype conversion: the one kernel behind
// contiguous(), clone(), to(dtype) and copy_(). Broadcasting of src is done by
// the caller through an expand()ed view (stride 0).
#pragma once

#include "core/tensor.h"

namespace mpq {

// dst and src have the same shape; any strides, any dtypes.
void copy_elements(const Tensor& dst, const Tensor& src);

}  // namespace mpq
