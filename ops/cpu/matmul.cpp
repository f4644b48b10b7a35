// CPU matmul c[M,N] (contiguous) = a[M,K] b[K,N] (each dense along one axis):
// oneDNN for float32, the plain loops of ops/reference/matmul.h for float64
// (the gradient checks' dtype, and the oracle of the float32 path).
#include "core/backend.h"
#include "core/tensor.h"

#include "ops/cpu/onednn.h"
#include "ops/reference/matmul.h"

namespace mpq::cpu {

namespace {

void matmul_f32(const Tensor& a, const Tensor& b, const Tensor& c) {
  using namespace onednn;
  static Cache<dnnl::matmul> cache;
  const auto ad = plain_desc(a), bd = plain_desc(b), cd = plain_desc(c);
  const std::string key =
      shape_str(a.shape()) + shape_str(a.strides()) + shape_str(b.shape()) + shape_str(b.strides());
  dnnl::matmul& prim = cache.get(key, [&] {
    dnnl::matmul::desc desc(ad, bd, cd);
    return dnnl::matmul(dnnl::matmul::primitive_desc(desc, engine()));
  });
  prim.execute(
      stream(),
      {{DNNL_ARG_SRC, wrap(a, ad)}, {DNNL_ARG_WEIGHTS, wrap(b, bd)}, {DNNL_ARG_DST, wrap(c, cd)}});
  stream().wait();
}

void matmul(const Tensor& a, const Tensor& b, const Tensor& c) {
  if (a.dtype() == DType::f32) return matmul_f32(a, b, c);
  const std::int64_t M = a.shape()[0], K = a.shape()[1], N = b.shape()[1];
  reference::matmul(a.data<double>(), a.strides()[0], a.strides()[1], b.data<double>(),
                    b.strides()[0], b.strides()[1], c.data<double>(), M, K, N);
}

const BackendRegistration registration(DeviceType::cpu, [](Backend& b) { b.matmul = matmul; });

}  // namespace

}  // namespace mpq::cpu
