// The backend table: every kernel entry point of mpq, one signature per kernel
// for every device type, filled by the backends that are built.
//
// Layers above core compute shapes, check arguments, allocate results and
// record one autograd closure; the arithmetic goes through the table of the
// operands' device:
//
//   backend(x.device()).conv2d_forward(x, w, b, p, y);    // or MPQ_KERNEL(...)
//
// Each backend folder registers what it implements with a static
// BackendRegistration in the kernel's own file (ops/cpu/conv2d.cpp registers
// the CPU convolution, ops/cuda/conv2d.cpp the cuDNN one), so the table knows
// nothing of any backend and a build without CUDA simply registers nothing for
// DeviceType::cuda: using a CUDA device then says "this build of mpq has no
// CUDA backend". A backend may leave an entry empty (the CUDA backend has no fused
// inference convolution); callers that can do without it test the pointer,
// the others get an error naming the kernel and the device.
//
// Conventions shared by every kernel: outputs are allocated by the caller
// (shape, dtype, device, layout as documented per entry) and written, never
// accumulated into; operands are on the table's device (check_same_device has
// run); scalars the result depends on are tensors on that device, so a GPU
// kernel never waits for the host. Parameter gradients (the quantizers',
// batch norm's) are reduced in a fixed order on every backend, so results do
// not depend on the thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/allocator.h"
#include "core/device.h"
#include "core/elementwise_kind.h"

namespace mpq {

class Tensor;
struct Conv2dParams;  // ops/conv2d.h
struct Pool2dParams;  // ops/pool.h

struct Backend {
  // ---- the device (core) ----------------------------------------------------
  const char* name = nullptr;  // "cpu", "cuda"; null while nothing is registered
  // Usable devices of this type; 0 with the reason in why_none (never throws).
  int (*device_count)(std::string* why_none) = nullptr;
  void* (*allocate)(std::size_t nbytes, Device device) = nullptr;
  void (*deallocate)(void* ptr, std::size_t nbytes, Device device) = nullptr;
  AllocatorStats (*memory_stats)(Device device) = nullptr;
  void (*empty_cache)() = nullptr;
  // Host <-> device copies of nbytes, ordered on the device's queue (devices
  // other than the CPU). A copy to the host returns when the data is there;
  // from the host it returns once `src` may be reused, or at once when
  // `async` (pinned sources only).
  void (*copy_from_host)(void* dst, const void* src, std::size_t nbytes, Device device,
                         bool async) = nullptr;
  void (*copy_to_host)(void* dst, const void* src, std::size_t nbytes, Device device) = nullptr;
  // Waits until everything queued for the device has finished.
  void (*synchronize)(Device device) = nullptr;
  // Page-locked host memory that this backend can copy from asynchronously
  // (nullptr when unavailable: the caller then uses ordinary memory).
  void* (*pinned_allocate)(std::size_t nbytes) = nullptr;
  void (*pinned_deallocate)(void* ptr, std::size_t nbytes) noexcept = nullptr;
  // dst = src elementwise (same shape, any strides and dtypes).
  void (*copy_elements)(const Tensor& dst, const Tensor& src) = nullptr;
  void (*fill)(const Tensor& dst, double value) = nullptr;

  // ---- ops ------------------------------------------------------------------
  // Whether float32 convolution and batch norm read and write channels-last
  // ([N, C, H, W] with NHWC strides) activations; otherwise contiguous NCHW.
  bool channels_last = false;
  // out = op(a, b) for operands already broadcast to out's shape.
  void (*binary)(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out, double alpha,
                 double beta) = nullptr;
  void (*unary)(UnaryOp op, const Tensor& x, const Tensor& out, double alpha,
                double beta) = nullptr;
  void (*where)(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) = nullptr;
  // x contiguous [outer, inner]: out[i] = scale * sum_j x[i, j].
  void (*sum_rows)(const Tensor& x, std::int64_t outer, std::int64_t inner, double scale,
                   const Tensor& out) = nullptr;
  // out[i] = max_j x[i, j] and index[i] its first argmax (int32; undefined: not wanted).
  void (*max_rows)(const Tensor& x, std::int64_t outer, std::int64_t inner, const Tensor& out,
                   const Tensor& index) = nullptr;
  // grad (zeroed [outer, inner]) gets g[i] at [i, index[i]]: max's backward.
  void (*scatter_rows)(const Tensor& g, const Tensor& index, std::int64_t outer, std::int64_t inner,
                       const Tensor& grad) = nullptr;
  // c [M, N] = a [M, K] b [K, N]; each matrix dense along one axis.
  void (*matmul)(const Tensor& a, const Tensor& b, const Tensor& c) = nullptr;
  // Convolution of x [N, C, H, W] with w [O, C/groups, KH, KW] (+ b [O] when
  // defined) into y [N, O, P, Q]; activations in the backend's layout
  // (channels_last for float32, contiguous otherwise), w and b contiguous.
  void (*conv2d_forward)(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p,
                         const Tensor& y) = nullptr;
  void (*conv2d_backward_data)(const Tensor& dy, const Tensor& w, const Conv2dParams& p,
                               const Tensor& dx) = nullptr;
  // dw and, when db is defined, the bias gradient db = sum of dy over N, P, Q.
  void (*conv2d_backward_weights)(const Tensor& x, const Tensor& dy, const Conv2dParams& p,
                                  const Tensor& dw, const Tensor& db) = nullptr;
  // Inference: y = relu?(conv(x, w) + b (+ y when accumulate)); float32 only.
  void (*conv2d_forward_inference)(const Tensor& x, const Tensor& w, const Tensor& b,
                                   const Conv2dParams& p, bool relu, bool accumulate,
                                   const Tensor& y) = nullptr;
  // Mean softmax cross-entropy of logits [N, K] (contiguous) and int32 labels
  // [N] into the 0-d loss; probs gets the softmax. Backward: dz = (probs -
  // onehot(labels)) * g / N with g the 0-d upstream gradient.
  void (*cross_entropy_forward)(const Tensor& logits, const Tensor& labels, const Tensor& probs,
                                const Tensor& loss) = nullptr;
  void (*cross_entropy_backward)(const Tensor& probs, const Tensor& labels, const Tensor& g,
                                 const Tensor& dz) = nullptr;
  // Batch norm over N, H, W per channel (ops/batch_norm.h has the formulas);
  // x, y, dy, dx channels-last when x is and the backend has channels_last.
  // batch_stats defined (synchronised batch norm, training only; float64
  // [2, C]: mean, biased variance of every process's batch of `count` values
  // per channel): used instead of x's own, the running statistics updated
  // from them with count.
  void (*batch_norm_forward)(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                             const Tensor& running_mean, const Tensor& running_var, bool training,
                             double momentum, double eps, const Tensor& y, const Tensor& mean,
                             const Tensor& rstd, const Tensor& batch_stats, double count) = nullptr;
  // totals undefined: sum g and sum g xhat are taken over x itself (written
  // to dbeta and dgamma when defined). totals defined (synchronised batch
  // norm, float64 [2, C]: sum g, sum g xhat over every process's batch of
  // `count` values per channel): dx uses them; dgamma, dbeta are not written.
  void (*batch_norm_backward)(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                              const Tensor& mean, const Tensor& rstd, bool training,
                              const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta,
                              const Tensor& totals, double count) = nullptr;
  // Synchronised batch norm's per-process sums (float64 [3, C] `sums`):
  // sum (x - shift[c]), sum (x - shift[c])^2 and the count N H W, per channel.
  // shift (x's dtype, [C]) is common to every process, so the shifted sums
  // add up across processes without cancellation when |mean| >> std.
  void (*batch_norm_stats)(const Tensor& x, const Tensor& shift, const Tensor& sums) = nullptr;
  // Synchronised batch norm's per-process backward sums (float64 [2, C]
  // `sums`): sum g and sum g xhat, xhat = (x - mean) rstd, per channel.
  void (*batch_norm_backward_stats)(const Tensor& dy, const Tensor& x, const Tensor& mean,
                                    const Tensor& rstd, const Tensor& sums) = nullptr;
  // Pooling on contiguous NCHW; max pooling keeps the argmax (int32, an
  // offset within the input plane) for its backward.
  void (*max_pool2d_forward)(const Tensor& x, const Pool2dParams& p, const Tensor& y,
                             const Tensor& index) = nullptr;
  void (*max_pool2d_backward)(const Tensor& dy, const Tensor& index, const Pool2dParams& p,
                              const Tensor& dx) = nullptr;
  void (*avg_pool2d_forward)(const Tensor& x, const Pool2dParams& p, const Tensor& y) = nullptr;
  void (*avg_pool2d_backward)(const Tensor& dy, const Pool2dParams& p, const Tensor& dx) = nullptr;

  // ---- quantizers (quant/; docs/method.md section 1) -------------------------
  // q = Q(x) for a dense x of any layout (q, dx in x's layout); d, q_max (or
  // q_min, q_max) are one-element tensors. Backward: dx = dL/dx and the two
  // parameter gradients, written as one-element tensors of the parameters'
  // shapes. A backend that reads the parameters on the host checks their range.
  void (*quantize_uniform_forward)(const Tensor& x, const Tensor& d, const Tensor& qmax,
                                   bool is_signed, const Tensor& q) = nullptr;
  void (*quantize_uniform_backward)(const Tensor& g, const Tensor& x, const Tensor& d,
                                    const Tensor& qmax, bool is_signed, const Tensor& dx,
                                    const Tensor& gd, const Tensor& gqmax) = nullptr;
  void (*quantize_pow2_forward)(const Tensor& x, const Tensor& qmin, const Tensor& qmax,
                                bool is_signed, bool with_zero, const Tensor& q) = nullptr;
  void (*quantize_pow2_backward)(const Tensor& g, const Tensor& x, const Tensor& qmin,
                                 const Tensor& qmax, bool is_signed, bool with_zero,
                                 const Tensor& dx, const Tensor& gqmin,
                                 const Tensor& gqmax) = nullptr;

  // ---- optimizers (train/optimizer.h) -----------------------------------------
  // In place on p (v, m: state of p's shape and layout; g: p's gradient):
  //   SGD:  d = g + l2 p; v = first ? d : momentum v + d; d = nesterov ? d + momentum v : v
  //         (without v when momentum is 0); p = shrink p - lr d
  //   Adam: g' = g + l2 p; m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g'^2;
  //         p = shrink p - lr (m / c1) / (sqrt(v / c2) + eps)
  void (*sgd_update)(const Tensor& p, const Tensor& g, const Tensor& v, bool first, double lr,
                     double momentum, double l2, double shrink, bool nesterov) = nullptr;
  void (*adam_update)(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, double b1,
                      double b2, double eps, double c1, double c2, double lr, double l2,
                      double shrink) = nullptr;
};

// The table of `device`'s type. Throws mpq::Error when this build registered
// no backend for it ("this build of mpq has no CUDA backend").
const Backend& backend(Device device);
// True when a backend for `type` is registered in this build.
bool backend_built(DeviceType type);

// Throws mpq::Error naming `what` unless `device` can run work now: its
// backend is built, a device of that type exists, and the index is in range.
void require_device(Device device, const char* what);
// Usable devices of `type` (0 with the reason when its backend is not built
// or finds none).
int device_count(DeviceType type, std::string* why_none = nullptr);
// Waits for everything queued on `device` (nothing to wait for on the CPU).
void synchronize(Device device);
// The caching allocator's statistics for `device`.
AllocatorStats memory_stats(Device device);

// Whether float32 convolutions and matmuls may use TF32 tensor cores where a
// backend has them (10-bit mantissa products, float32 sums). Off by default:
// results then compare with the CPU backend to float32 rounding.
void set_allow_tf32(bool on);
bool allow_tf32();

// Registration, from a backend's kernel files (static objects):
//   const BackendRegistration reg(DeviceType::cpu, [](Backend& b) { b.matmul = matmul; });
struct BackendRegistration {
  BackendRegistration(DeviceType type, void (*fill)(Backend&));
};

// A kernel that must exist: the entry, or mpq::Error naming it and the device.
[[noreturn]] void missing_kernel(const char* kernel, Device device);
template <class Fn>
Fn require_kernel(Fn fn, const char* kernel, Device device) {
  if (fn == nullptr) missing_kernel(kernel, device);
  return fn;
}
#define MPQ_KERNEL(device, name) ::mpq::require_kernel(::mpq::backend(device).name, #name, (device))

}  // namespace mpq
