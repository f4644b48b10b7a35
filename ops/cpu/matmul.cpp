#include "ops/cpu/matmul.h"

#include "ops/cpu/onednn.h"

namespace mpq::cpu {

void matmul(const Tensor& a, const Tensor& b, const Tensor& c) {
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

}  // namespace mpq::cpu
