#include "core/tensor.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/copy.h"
#include "core/layout.h"
#include "core/strided_loop.h"

namespace mpq {

std::int64_t Tensor::size(std::int64_t axis) const {
  return shape()[normalize_axis(axis, dim(), "Tensor::size")];
}

bool Tensor::is_contiguous() const {
  std::int64_t expected = 1;
  for (std::size_t i = shape().size(); i-- > 0;) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  if (!device().is_cpu()) host_access_error();
  return device_data();
}

void* Tensor::device_data() const {
  return static_cast<char*>(impl().storage->data()) + impl().offset * dtype_size(dtype());
}

void Tensor::host_access_error() const {
  MPQ_FAIL("host access to a tensor on ", device().str(), " (", shape_str(shape()), " ",
           dtype_name(dtype()),
           "): this operation has no kernel for that device yet; move the tensor with "
           ".to(Device::cpu()) first");
}

Tensor& Tensor::set_requires_grad(bool on) {
  MPQ_CHECK(is_leaf(),
            "set_requires_grad: only leaf tensors can be marked (this one is the result of ",
            grad_fn()->name(), ")");
  MPQ_CHECK(!on || is_floating(dtype()), "set_requires_grad: a ", dtype_name(dtype()),
            " tensor cannot require grad (floating dtypes only)");
  impl().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const {
  return impl().grad ? Tensor(impl().grad) : Tensor();
}

void Tensor::zero_grad() const {
  if (impl().grad) Tensor(impl().grad).fill_(0.0);
}

void Tensor::set_grad(const Tensor& g) const {
  if (!g.defined()) {
    impl().grad.reset();
    return;
  }
  MPQ_CHECK(g.shape() == shape() && g.dtype() == dtype(), "set_grad: gradient ",
            shape_str(g.shape()), " ", dtype_name(g.dtype()), " does not match tensor ",
            shape_str(shape()), " ", dtype_name(dtype()));
  // Optimizers and accumulation index the gradient as a dense array.
  impl().grad = g.is_contiguous() && g.offset() == 0 ? g.impl_ptr() : g.clone().detach().impl_ptr();
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  run_backward(*this, gradient, retain_graph);
}

Tensor Tensor::detach() const {
  auto impl2 = std::make_shared<TensorImpl>();
  impl2->storage = impl().storage;
  impl2->shape = shape();
  impl2->strides = strides();
  impl2->offset = offset();
  impl2->dtype = dtype();
  return Tensor(std::move(impl2));
}

namespace {

// A copy of `t` on `device`, not recorded: one host <-> device transfer of a
// dense block in t's layout (a non-dense t is made dense on its own device
// first). Between two GPUs the data goes through the host.
Tensor transfer(const Tensor& t, Device device) {
  const Tensor src = dense(t.detach());
  Tensor out = empty_strided(src.shape(), src.strides(), src.dtype(), device);
  const std::size_t nbytes = static_cast<std::size_t>(src.numel()) * dtype_size(src.dtype());
  if (src.device().is_cpu()) {
    // A pinned source is not reused before the copy ends (core/storage.h).
    backend(device).copy_from_host(out.device_data(), src.device_data(), nbytes, device,
                                   src.is_pinned());
  } else if (device.is_cpu()) {
    backend(src.device()).copy_to_host(out.device_data(), src.device_data(), nbytes, src.device());
  } else {
    const Tensor host = transfer(src, Device::cpu());
    backend(device).copy_from_host(out.device_data(), host.device_data(), nbytes, device, false);
  }
  return out;
}

}  // namespace

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor out = transfer(*this, device);
  const Device from = this->device();
  return record("to_device", out, {this},
                [from](const Tensor& g) { return std::vector<Tensor>{g.to(from)}; });
}

void Tensor::move_to_(Device device) {
  MPQ_CHECK(is_leaf(),
            "move_to_: only leaf tensors (parameters, buffers) move in place; this one "
            "is the result of ",
            grad_fn()->name());
  if (device == this->device()) return;
  const Tensor moved = transfer(*this, device);
  TensorImpl& i = impl();
  i.storage = moved.impl().storage;
  i.strides = moved.strides();
  i.offset = moved.offset();
  if (i.grad) i.grad = transfer(Tensor(i.grad), device).impl_ptr();
}

Tensor& Tensor::copy_(const Tensor& src) {
  const Tensor from = src.device() == device() ? src : transfer(src, device());
  Tensor s = from.shape() == shape() ? from : from.detach().expand(shape());
  copy_elements(*this, s);
  return *this;
}

Tensor& Tensor::fill_(double value) {
  backend(device()).fill(*this, value);
  return *this;
}

double Tensor::item() const {
  MPQ_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ",
            shape_str(shape()));
  if (!device().is_cpu()) return transfer(*this, Device::cpu()).item();
  return dispatch_all(dtype(), [&]<class T>() { return static_cast<double>(*data<T>()); });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  if (!device().is_cpu()) return transfer(*this, Device::cpu()).to_vector<T>();
  Tensor c = (dtype() == dtype_of<T>() ? detach() : detach().to(dtype_of<T>())).contiguous();
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.numel());
}
template std::vector<float> Tensor::to_vector() const;
template std::vector<double> Tensor::to_vector() const;
template std::vector<std::int32_t> Tensor::to_vector() const;
template std::vector<std::int8_t> Tensor::to_vector() const;
template std::vector<std::uint8_t> Tensor::to_vector() const;

std::string Tensor::str() const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(" << shape_str(shape()) << ", " << dtype_name(dtype());
  const auto v = to_vector<double>();
  os << ", [";
  const std::size_t shown = v.size() < 16 ? v.size() : 16;
  for (std::size_t i = 0; i < shown; ++i) os << (i ? ", " : "") << v[i];
  if (shown < v.size()) os << ", ...";
  os << "])";
  return os.str();
}

Tensor empty(const Shape& shape, DType dtype, Device device) {
  // Zero dimensions count as 1 here so that an empty tensor with absurd other
  // dimensions is refused too (its strides would overflow).
  std::int64_t n = 1;
  for (auto d : shape) {
    MPQ_CHECK(d >= 0, "empty: negative dimension in shape ", shape_str(shape));
    const std::int64_t at_least_1 = std::max<std::int64_t>(d, 1);
    MPQ_CHECK(n <= (std::int64_t(1) << 46) / at_least_1, "empty: shape ", shape_str(shape),
              " is too large");
    n *= at_least_1;
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(numel_of(shape) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}
Tensor ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}
Tensor scalar_tensor(double value, DType dtype) {
  return full({}, value, dtype);
}
Tensor empty_pinned(const Shape& shape, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(numel_of(shape) * dtype_size(dtype), Device::cpu(),
                                            /*pinned=*/true);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor empty_like(const Tensor& t) {
  return empty(t.shape(), t.dtype(), t.device());
}
Tensor zeros_like(const Tensor& t) {
  return zeros(t.shape(), t.dtype(), t.device());
}
Tensor ones_like(const Tensor& t) {
  return ones(t.shape(), t.dtype(), t.device());
}

Tensor arange(std::int64_t n, DType dtype) {
  Tensor t = empty({n}, dtype);
  dispatch_all(dtype, [&]<class T>() {
    T* p = t.data<T>();
    for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(i);
  });
  return t;
}

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  MPQ_CHECK(static_cast<std::int64_t>(values.size()) == numel_of(shape),
            "from_vector: ", values.size(), " values for shape ", shape_str(shape), " (",
            numel_of(shape), " elements)");
  Tensor t = empty(shape, dtype_of<T>());
  if (!values.empty()) std::memcpy(t.data<T>(), values.data(), values.size() * sizeof(T));
  return t;
}
template Tensor from_vector(const std::vector<float>&, const Shape&);
template Tensor from_vector(const std::vector<double>&, const Shape&);
template Tensor from_vector(const std::vector<std::int32_t>&, const Shape&);
template Tensor from_vector(const std::vector<std::int8_t>&, const Shape&);
template Tensor from_vector(const std::vector<std::uint8_t>&, const Shape&);

Tensor as_strided(const Tensor& base, const Shape& shape, const Strides& strides,
                  std::int64_t offset) {
  MPQ_CHECK(shape.size() == strides.size(), "as_strided: shape ", shape_str(shape), " and strides ",
            shape_str(strides), " differ in rank");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl().storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

void check_same_device(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (!t->defined()) continue;
    if (!first) {
      first = t;
      continue;
    }
    MPQ_CHECK(t->device() == first->device(), op, ": tensors on different devices (",
              first->device().str(), " and ", t->device().str(), ")");
  }
}

void copy_elements(const Tensor& dst, const Tensor& src) {
  MPQ_CHECK(dst.shape() == src.shape(), "copy: shapes ", shape_str(dst.shape()), " and ",
            shape_str(src.shape()), " differ");
  if (dst.numel() == 0) return;
  if (dst.impl().storage == src.impl().storage && dst.device_data() != src.device_data()) {
    // Overlapping views of one storage (e.g. a shifted narrow): copy through a
    // temporary so that no element is read after it was overwritten.
    Tensor tmp = empty(src.shape(), src.dtype(), src.device());
    copy_elements(tmp, src);
    copy_elements(dst, tmp);
    return;
  }
  backend(dst.device()).copy_elements(dst, src);
}

}  // namespace mpq
