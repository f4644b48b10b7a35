#include "ops/cpu/onednn.h"

#include <map>
#include <utility>

namespace mpq::cpu::onednn {

dnnl::engine& engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

dnnl::memory::desc plain_desc(const Shape& shape, const Strides& strides) {
  dnnl::memory::dims d(shape.begin(), shape.end());
  dnnl::memory::dims s(strides.begin(), strides.end());
  // oneDNN wants strides of size-1 dims to be consistent; any value works for
  // them, so give them the contiguous stride to keep descriptors canonical.
  const Strides cs = contiguous_strides(shape);
  for (std::size_t i = 0; i < shape.size(); ++i)
    if (shape[i] == 1) s[i] = cs[i];
  return dnnl::memory::desc(d, dnnl::memory::data_type::f32, s);
}

dnnl::memory::desc plain_desc(const Tensor& t) {
  MPQ_CHECK(t.dtype() == DType::f32, "oneDNN kernels take float32 tensors, got ",
            dtype_name(t.dtype()));
  return plain_desc(t.shape(), t.strides());
}

dnnl::memory wrap(const Tensor& t) {
  return dnnl::memory(plain_desc(t), engine(), t.raw_data());
}
dnnl::memory wrap(const Tensor& t, const dnnl::memory::desc& desc) {
  return dnnl::memory(desc, engine(), t.raw_data());
}

namespace {
// Reorder primitives are cached by their (source, destination) descriptors.
dnnl::reorder& reorder_primitive(const dnnl::memory::desc& from, const dnnl::memory::desc& to) {
  static std::vector<std::pair<std::pair<dnnl::memory::desc, dnnl::memory::desc>, dnnl::reorder>>
      cache;
  for (auto& [key, prim] : cache)
    if (key.first == from && key.second == to) return prim;
  dnnl::reorder::primitive_desc pd(engine(), from, engine(), to);
  cache.emplace_back(std::make_pair(from, to), dnnl::reorder(pd));
  return cache.back().second;
}
}  // namespace

void reorder(const dnnl::memory& src, const dnnl::memory& dst) {
  reorder_primitive(src.get_desc(), dst.get_desc())
      .execute(stream(), {{DNNL_ARG_FROM, const_cast<dnnl::memory&>(src)},
                          {DNNL_ARG_TO, const_cast<dnnl::memory&>(dst)}});
}

dnnl::memory to_layout(const dnnl::memory& have, const dnnl::memory::desc& want,
                       std::shared_ptr<Tensor>& scratch) {
  if (have.get_desc() == want) return have;
  const std::int64_t floats = static_cast<std::int64_t>((want.get_size() + 3) / 4);
  if (!scratch || scratch->numel() < floats) scratch = std::make_shared<Tensor>(empty({floats}));
  dnnl::memory out(want, engine(), scratch->raw_data());
  reorder(have, out);
  return out;
}

}  // namespace mpq::cpu::onednn
