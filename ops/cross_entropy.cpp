#include "ops/cross_entropy.h"

#include <vector>

#include "core/autograd.h"
#include "core/backend.h"

namespace mpq {

Tensor cross_entropy(const Tensor& logits_in, const Tensor& labels_in) {
  check_same_device("cross_entropy", {&logits_in, &labels_in});
  MPQ_CHECK(logits_in.dim() == 2 && is_floating(logits_in.dtype()),
            "cross_entropy: expected floating logits [N, K], got ", shape_str(logits_in.shape()),
            " ", dtype_name(logits_in.dtype()));
  const std::int64_t N = logits_in.shape()[0], K = logits_in.shape()[1];
  MPQ_CHECK(labels_in.dtype() == DType::i32 && labels_in.shape() == Shape{N},
            "cross_entropy: expected int32 labels [", N, "], got ", shape_str(labels_in.shape()),
            " ", dtype_name(labels_in.dtype()));
  MPQ_CHECK(N > 0 && K > 0, "cross_entropy: empty logits ", shape_str(logits_in.shape()));
  // The labels are copied: backward indexes with them, so a later change to
  // the caller's tensor must not reach it.
  const Tensor logits = logits_in.detach().contiguous(), labels = labels_in.detach().clone();
  {
    // On a GPU the labels are read back for this check (N int32 values); a
    // label outside the classes would make the kernels index out of bounds.
    const std::vector<std::int32_t> y = labels.to_vector<std::int32_t>();
    for (std::int64_t n = 0; n < N; ++n)
      MPQ_CHECK(y[n] >= 0 && y[n] < K, "cross_entropy: label ", y[n], " at index ", n,
                " is outside [0, ", K, ")");
  }
  Tensor probs = empty_like(logits);
  // The loss stays on the logits' device; the backward reads g there too.
  Tensor out = empty({}, logits.dtype(), logits.device());
  MPQ_KERNEL(logits.device(), cross_entropy_forward)(logits, labels, probs, out);
  return record("cross_entropy", out, {&logits_in}, [probs, labels](const Tensor& g) {
    Tensor dz = empty_like(probs);
    MPQ_KERNEL(probs.device(), cross_entropy_backward)(probs, labels, g.contiguous(), dz);
    return std::vector<Tensor>{dz};
  });
}

}  // namespace mpq
