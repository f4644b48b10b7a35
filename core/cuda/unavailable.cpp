// The CUDA kernels' entry points in a build without the CUDA backend. No
// tensor can live on a CUDA device in such a build (its allocation fails with
// the reason first), so these only guard against a logic error.
#include "core/cuda/copy.h"
#include "core/cuda/runtime.h"
#include "ops/cuda/batch_norm.h"
#include "ops/cuda/conv2d.h"
#include "ops/cuda/cross_entropy.h"
#include "ops/cuda/elementwise.h"
#include "ops/cuda/matmul.h"
#include "ops/cuda/pool.h"
#include "ops/cuda/reduce.h"
#include "quant/cuda/quantize.h"
#include "train/cuda/optimizer.h"

namespace mpq::cuda {

namespace {
[[noreturn]] void unavailable(const Tensor& t, const char* op) {
  require(t.device(), op);  // throws: this build has no CUDA backend
  MPQ_FAIL(op, ": no CUDA backend in this build");
}
}  // namespace

void copy_elements(const Tensor& dst, const Tensor&) { unavailable(dst, "cuda::copy_elements"); }
void fill(const Tensor& dst, double) { unavailable(dst, "cuda::fill"); }
void binary(BinaryOp, const Tensor&, const Tensor&, const Tensor& out, double, double) {
  unavailable(out, "cuda::binary");
}
void unary(UnaryOp, const Tensor&, const Tensor& out, double, double) {
  unavailable(out, "cuda::unary");
}
void where(const Tensor&, const Tensor&, const Tensor&, const Tensor& out) {
  unavailable(out, "cuda::where");
}
void sum_rows(const Tensor& x, std::int64_t, std::int64_t, double, const Tensor&) {
  unavailable(x, "cuda::sum_rows");
}
void max_rows(const Tensor& x, std::int64_t, std::int64_t, const Tensor&, const Tensor&) {
  unavailable(x, "cuda::max_rows");
}
void scatter_rows(const Tensor& g, const Tensor&, std::int64_t, std::int64_t, const Tensor&) {
  unavailable(g, "cuda::scatter_rows");
}
void matmul(const Tensor& a, const Tensor&, const Tensor&) { unavailable(a, "cuda::matmul"); }
void conv2d_forward(const Tensor& x, const Tensor&, const Tensor&, const Conv2dParams&,
                    const Tensor&) {
  unavailable(x, "cuda::conv2d_forward");
}
void conv2d_backward_data(const Tensor& dy, const Tensor&, const Conv2dParams&, const Tensor&) {
  unavailable(dy, "cuda::conv2d_backward_data");
}
void conv2d_backward_weights(const Tensor& x, const Tensor&, const Conv2dParams&, const Tensor&) {
  unavailable(x, "cuda::conv2d_backward_weights");
}
void cross_entropy_forward(const Tensor& z, const Tensor&, const Tensor&, const Tensor&) {
  unavailable(z, "cuda::cross_entropy_forward");
}
void cross_entropy_backward(const Tensor& p, const Tensor&, const Tensor&, const Tensor&) {
  unavailable(p, "cuda::cross_entropy_backward");
}
void batch_norm_forward(const Tensor& x, const Tensor&, const Tensor&, const Tensor&,
                        const Tensor&, bool, double, double, const Tensor&, const Tensor&,
                        const Tensor&) {
  unavailable(x, "cuda::batch_norm_forward");
}
void batch_norm_backward(const Tensor&, const Tensor& x, const Tensor&, const Tensor&,
                         const Tensor&, bool, const Tensor&, const Tensor&, const Tensor&) {
  unavailable(x, "cuda::batch_norm_backward");
}
void max_pool2d_forward(const Tensor& x, const Pool2dParams&, const Tensor&, const Tensor&) {
  unavailable(x, "cuda::max_pool2d_forward");
}
void max_pool2d_backward(const Tensor& dy, const Tensor&, const Pool2dParams&, const Tensor&) {
  unavailable(dy, "cuda::max_pool2d_backward");
}
void avg_pool2d_forward(const Tensor& x, const Pool2dParams&, const Tensor&) {
  unavailable(x, "cuda::avg_pool2d_forward");
}
void avg_pool2d_backward(const Tensor& dy, const Pool2dParams&, const Tensor&) {
  unavailable(dy, "cuda::avg_pool2d_backward");
}

}  // namespace mpq::cuda

namespace mpq::quant::cuda {

void quantize_uniform_forward(const Tensor& x, const Tensor&, const Tensor&, bool, const Tensor&) {
  mpq::cuda::require(x.device(), "quant::cuda::quantize_uniform_forward");
}
void quantize_uniform_backward(const Tensor&, const Tensor& x, const Tensor&, const Tensor&, bool,
                               const Tensor&, const Tensor&, const Tensor&) {
  mpq::cuda::require(x.device(), "quant::cuda::quantize_uniform_backward");
}
void quantize_pow2_forward(const Tensor& x, const Tensor&, const Tensor&, bool, bool,
                           const Tensor&) {
  mpq::cuda::require(x.device(), "quant::cuda::quantize_pow2_forward");
}
void quantize_pow2_backward(const Tensor&, const Tensor& x, const Tensor&, const Tensor&, bool,
                            bool, const Tensor&, const Tensor&, const Tensor&) {
  mpq::cuda::require(x.device(), "quant::cuda::quantize_pow2_backward");
}

}  // namespace mpq::quant::cuda

namespace mpq::train::cuda {

void sgd_update(const Tensor& p, const Tensor&, const Tensor&, bool, double, double, double,
                double, bool) {
  mpq::cuda::require(p.device(), "train::cuda::sgd_update");
}
void adam_update(const Tensor& p, const Tensor&, const Tensor&, const Tensor&, double, double,
                 double, double, double, double, double, double) {
  mpq::cuda::require(p.device(), "train::cuda::adam_update");
}

}  // namespace mpq::train::cuda
