// Tensor: a strided view of a reference-counted Storage, with autograd state.
//
// A Tensor is a cheap handle (one shared_ptr). Copying a Tensor shares the
// data; clone() copies it. Views (reshape of a contiguous tensor, permute,
// narrow, expand, ...) share storage and are recorded on the autograd tape so
// that gradients flow through them.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/shape.h"
#include "core/storage.h"

namespace mpq {

class Node;
class Tensor;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;
  std::int64_t offset = 0;  // in elements
  DType dtype = DType::f32;

  // Autograd state.
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;         // set on results of recorded ops
  std::shared_ptr<TensorImpl> grad;      // accumulated gradient of a leaf
  std::weak_ptr<Node> grad_accumulator;  // the leaf's accumulation node, while a graph uses it
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Strides& strides() const { return impl().strides; }
  std::int64_t offset() const { return impl().offset; }
  std::int64_t dim() const { return static_cast<std::int64_t>(impl().shape.size()); }
  std::int64_t size(std::int64_t axis) const;
  std::int64_t numel() const { return numel_of(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_contiguous() const;
  // In page-locked host memory (empty_pinned): copies to a GPU are asynchronous.
  bool is_pinned() const { return impl().storage->pinned(); }

  // Host pointer to element [0, ..., 0]; T must match the dtype. A tensor in
  // device memory is refused (an op without a kernel for that device would
  // otherwise read device memory from the host): move it with to(Device::cpu()).
  template <class T>
  T* data() const {
    MPQ_CHECK(dtype_of<T>() == dtype(), "Tensor::data: requested ", dtype_name(dtype_of<T>()),
              " from a ", dtype_name(dtype()), " tensor");
    if (!device().is_cpu()) host_access_error();
    return static_cast<T*>(impl().storage->data()) + impl().offset;
  }
  void* raw_data() const;  // host pointer, as data<T>()
  // Pointer to element [0, ..., 0] on the tensor's own device, for kernels.
  void* device_data() const;

  // ---- autograd ----
  bool requires_grad() const { return impl().requires_grad; }
  // Marks a leaf as a parameter whose gradient is accumulated by backward().
  Tensor& set_requires_grad(bool on);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  // The accumulated gradient (undefined before the first backward).
  Tensor grad() const;
  // Zeroes the accumulated gradient in place (keeps its memory for reuse).
  void zero_grad() const;
  void set_grad(const Tensor& g) const;
  // Backpropagates from this tensor. Without `gradient` the tensor must hold
  // one element and the upstream gradient is 1.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  // Same data, cut from the graph.
  Tensor detach() const;

  // ---- views (differentiable; implemented in ops/view.cpp) ----
  Tensor reshape(const Shape& shape) const;  // copies only when strides do not allow a view
  Tensor permute(const std::vector<std::int64_t>& dims) const;
  Tensor transpose(std::int64_t a, std::int64_t b) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor narrow(std::int64_t axis, std::int64_t start, std::int64_t length) const;
  Tensor expand(const Shape& shape) const;
  Tensor unsqueeze(std::int64_t axis) const;
  Tensor squeeze(std::int64_t axis) const;
  Tensor flatten(std::int64_t start_axis = 0, std::int64_t end_axis = -1) const;
  Tensor contiguous() const;  // this tensor when already contiguous

  // ---- copies and conversions ----
  Tensor clone() const;          // differentiable copy
  Tensor to(DType dtype) const;  // differentiable between floating dtypes
  // A copy on `device` (this tensor when already there), dense in this
  // tensor's layout when it is dense. Differentiable: the gradient returns to
  // this tensor's device.
  Tensor to(Device device) const;
  Tensor& copy_(const Tensor& src);  // in place, broadcasting src, from any device; not recorded
  // Moves this leaf's data to `device` in place: every handle of the tensor
  // (a module's parameter and the optimizer's reference alike) then refers to
  // the device copy; an accumulated gradient moves along. Not recorded.
  void move_to_(Device device);
  Tensor& fill_(double value);  // in place; not recorded

  double item() const;  // the single element, as double
  template <class T>
  std::vector<T> to_vector() const;  // elements in row-major order
  std::string str() const;           // shape, dtype and (short) contents

  TensorImpl& impl() const {
    MPQ_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  [[noreturn]] void host_access_error() const;
  std::shared_ptr<TensorImpl> impl_;
};

// ---- factories ----
Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
            Device device = Device::cpu());
Tensor scalar_tensor(double value, DType dtype = DType::f32);  // 0-d
// An uninitialised CPU tensor in page-locked memory, whose copies to a GPU are
// asynchronous (ordinary memory when no backend can pin: is_pinned() tells).
Tensor empty_pinned(const Shape& shape, DType dtype = DType::f32);
Tensor arange(std::int64_t n, DType dtype = DType::f32);
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape);

// A view of base's storage with the given geometry; not recorded by autograd.
Tensor as_strided(const Tensor& base, const Shape& shape, const Strides& strides,
                  std::int64_t offset);

// Errors unless every tensor is on the same device; `op` names the caller.
void check_same_device(const char* op, std::initializer_list<const Tensor*> tensors);

}  // namespace mpq
