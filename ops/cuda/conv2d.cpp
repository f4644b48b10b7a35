// CUDA convolution through cuDNN (ops/cpu/conv2d.cpp is the CPU side), on
// contiguous NCHW activations and OIHW weights, float32 and float64.
//
// Algorithms come from cuDNN's heuristics (cudnnGet*Algorithm_v7), restricted
// to deterministic ones so that runs repeat exactly, and are cached per shape,
// geometry, dtype and device; the workspace is one buffer per device, grown
// when an algorithm needs more (core/cuda/handles.cuh). float32 runs in full
// float32 arithmetic unless TF32 is allowed (set_allow_tf32 in
// core/backend.h), which trades accuracy for tensor-core speed as
// PyTorch's default does.
#include "core/backend.h"
#include "core/tensor.h"
#include "ops/conv2d_params.h"

#include <map>
#include <mutex>
#include <tuple>

#include "core/cuda/handles.cuh"
#include "core/cuda/runtime.h"

namespace mpq::cuda {

namespace {

// The descriptors of one convolution problem (RAII).
struct Descriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

  Descriptors(const Shape& xs, const Shape& ws, const Shape& ys, const Conv2dParams& p, DType dt) {
    const cudnnDataType_t t = dt == DType::f32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
    auto i = [](std::int64_t v) { return static_cast<int>(v); };
    MPQ_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    MPQ_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    MPQ_CUDNN_CHECK(cudnnCreateTensorDescriptor(&bias));
    MPQ_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    MPQ_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    MPQ_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, t, i(xs[0]), i(xs[1]),
                                               i(xs[2]), i(xs[3])));
    MPQ_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, t, i(ys[0]), i(ys[1]),
                                               i(ys[2]), i(ys[3])));
    MPQ_CUDNN_CHECK(cudnnSetTensor4dDescriptor(bias, CUDNN_TENSOR_NCHW, t, 1, i(ws[0]), 1, 1));
    MPQ_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, t, CUDNN_TENSOR_NCHW, i(ws[0]), i(ws[1]),
                                               i(ws[2]), i(ws[3])));
    MPQ_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
        conv, i(p.padding[0]), i(p.padding[1]), i(p.stride[0]), i(p.stride[1]), i(p.dilation[0]),
        i(p.dilation[1]), CUDNN_CROSS_CORRELATION, t));
    MPQ_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv, i(p.groups)));
    MPQ_CUDNN_CHECK(cudnnSetConvolutionMathType(
        conv, dt == DType::f32 && mpq::allow_tf32() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  }
  ~Descriptors() {
    cudnnDestroyTensorDescriptor(x);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyTensorDescriptor(bias);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyConvolutionDescriptor(conv);
  }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;
};

// The cached choice for one problem: descriptors, algorithms and their
// workspace sizes (forward, backward data, backward weights).
struct Plan {
  std::unique_ptr<Descriptors> d;
  cudnnConvolutionFwdAlgo_t fwd{};
  cudnnConvolutionBwdDataAlgo_t bwd_data{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter{};
  // The math type each choice was ranked with: set on the descriptor before its call.
  cudnnMathType_t fwd_math{}, bwd_data_math{}, bwd_filter_math{};
  std::size_t fwd_ws = 0, bwd_data_ws = 0, bwd_filter_ws = 0;
};

using Key = std::tuple<int, int, bool, Shape, Shape, std::int64_t, std::int64_t, std::int64_t,
                       std::int64_t, std::int64_t, std::int64_t, std::int64_t>;

// The first deterministic algorithm of cuDNN's heuristic ranking that succeeds
// with a workspace of at most 1 GiB (else the first deterministic one).
template <class Perf>
const Perf& pick(const Perf* perf, int n, const char* what) {
  constexpr std::size_t kWorkspaceCap = std::size_t{1} << 30;
  const Perf* any = nullptr;
  for (int k = 0; k < n; ++k)
    if (perf[k].status == CUDNN_STATUS_SUCCESS && perf[k].determinism == CUDNN_DETERMINISTIC) {
      if (perf[k].memory <= kWorkspaceCap) return perf[k];
      if (!any) any = &perf[k];
    }
  MPQ_CHECK(any, "cuDNN offers no deterministic ", what, " algorithm for this convolution");
  return *any;
}

const Plan& plan_for(const Tensor& x, const Tensor& w, const Shape& ys, const Conv2dParams& p) {
  static std::mutex mutex;
  static auto* cache = new std::map<Key, Plan>;  // never destroyed (static destruction order)
  const Key key{x.device().index,  static_cast<int>(x.dtype()),
                mpq::allow_tf32(), x.shape(),
                w.shape(),         p.stride[0],
                p.stride[1],       p.padding[0],
                p.padding[1],      p.dilation[0],
                p.dilation[1],     p.groups};
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache->find(key);
  if (it != cache->end()) return it->second;
  Plan pl;
  pl.d = std::make_unique<Descriptors>(x.shape(), w.shape(), ys, p, x.dtype());
  const Descriptors& d = *pl.d;
  cudnnHandle_t h = cudnn_handle(x.device());
  constexpr int kMax = 16;
  int n = 0;
  // Each direction is ranked with the requested math type (full float32
  // unless TF32 is allowed); the chosen one is set again before each call.
  const cudnnMathType_t base =
      x.dtype() == DType::f32 && mpq::allow_tf32() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
  cudnnConvolutionFwdAlgoPerf_t fp[kMax];
  MPQ_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.conv, d.y, kMax, &n, fp));
  const auto& pf = pick(fp, n, "forward");
  pl.fwd = pf.algo;
  pl.fwd_math = pf.mathType;
  MPQ_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, pl.fwd_math));
  MPQ_CUDNN_CHECK(
      cudnnGetConvolutionForwardWorkspaceSize(h, d.x, d.w, d.conv, d.y, pl.fwd, &pl.fwd_ws));
  cudnnConvolutionBwdDataAlgoPerf_t bp[kMax];
  MPQ_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, base));
  MPQ_CUDNN_CHECK(
      cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w, d.y, d.conv, d.x, kMax, &n, bp));
  const auto& pb = pick(bp, n, "backward-data");
  pl.bwd_data = pb.algo;
  pl.bwd_data_math = pb.mathType;
  MPQ_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, pl.bwd_data_math));
  MPQ_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w, d.y, d.conv, d.x,
                                                               pl.bwd_data, &pl.bwd_data_ws));
  cudnnConvolutionBwdFilterAlgoPerf_t wp[kMax];
  MPQ_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, base));
  MPQ_CUDNN_CHECK(
      cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x, d.y, d.conv, d.w, kMax, &n, wp));
  const auto& pw = pick(wp, n, "backward-weights");
  pl.bwd_filter = pw.algo;
  pl.bwd_filter_math = pw.mathType;
  MPQ_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, pl.bwd_filter_math));
  MPQ_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x, d.y, d.conv, d.w,
                                                                 pl.bwd_filter, &pl.bwd_filter_ws));
  return cache->emplace(key, std::move(pl)).first->second;
}

// alpha = 1, beta = 0 (or 1) in the dtype cuDNN expects for the problem.
struct Scalars {
  float f1 = 1, f0 = 0;
  double d1 = 1, d0 = 0;
  const void* one(DType t) const { return t == DType::f32 ? static_cast<const void*>(&f1) : &d1; }
  const void* zero(DType t) const { return t == DType::f32 ? static_cast<const void*>(&f0) : &d0; }
};

void check_dims(const Tensor& t) {
  for (auto s : t.shape())
    MPQ_CHECK(s < (1LL << 31), "cuda conv2d: dimension ", s, " of ", shape_str(t.shape()),
              " exceeds cuDNN's int range");
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p,
                    const Tensor& y) {
  check_dims(x);
  const Plan& pl = plan_for(x, w, y.shape(), p);
  const Scalars s;
  const DType t = x.dtype();
  cudnnHandle_t h = cudnn_handle(x.device());
  MPQ_CUDNN_CHECK(cudnnSetConvolutionMathType(pl.d->conv, pl.fwd_math));
  MPQ_CUDNN_CHECK(cudnnConvolutionForward(
      h, s.one(t), pl.d->x, x.device_data(), pl.d->w, w.device_data(), pl.d->conv, pl.fwd,
      workspace(x.device(), pl.fwd_ws), pl.fwd_ws, s.zero(t), pl.d->y, y.device_data()));
  if (b.defined())
    MPQ_CUDNN_CHECK(cudnnAddTensor(h, s.one(t), pl.d->bias, b.device_data(), s.one(t), pl.d->y,
                                   y.device_data()));
}

void conv2d_backward_data(const Tensor& dy, const Tensor& w, const Conv2dParams& p,
                          const Tensor& dx) {
  check_dims(dx);
  const Plan& pl = plan_for(dx, w, dy.shape(), p);
  const Scalars s;
  const DType t = dy.dtype();
  MPQ_CUDNN_CHECK(cudnnSetConvolutionMathType(pl.d->conv, pl.bwd_data_math));
  MPQ_CUDNN_CHECK(cudnnConvolutionBackwardData(
      cudnn_handle(dy.device()), s.one(t), pl.d->w, w.device_data(), pl.d->y, dy.device_data(),
      pl.d->conv, pl.bwd_data, workspace(dy.device(), pl.bwd_data_ws), pl.bwd_data_ws, s.zero(t),
      pl.d->x, dx.device_data()));
}

void conv2d_backward_weights(const Tensor& x, const Tensor& dy, const Conv2dParams& p,
                             const Tensor& dw, const Tensor& db) {
  check_dims(x);
  const Plan& pl = plan_for(x, dw, dy.shape(), p);
  const Scalars s;
  const DType t = dy.dtype();
  MPQ_CUDNN_CHECK(cudnnSetConvolutionMathType(pl.d->conv, pl.bwd_filter_math));
  MPQ_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
      cudnn_handle(dy.device()), s.one(t), pl.d->x, x.device_data(), pl.d->y, dy.device_data(),
      pl.d->conv, pl.bwd_filter, workspace(dy.device(), pl.bwd_filter_ws), pl.bwd_filter_ws,
      s.zero(t), pl.d->w, dw.device_data()));
  if (db.defined()) {
    // db[o] = sum of dy over N, P, Q: dy as [O, N*P*Q] rows, summed by the
    // deterministic row reduction (ops/cuda/reduce.cu), as ops::sum would.
    const std::int64_t O = dy.shape()[1];
    const Tensor rows = dy.permute({1, 0, 2, 3}).contiguous();
    backend(dy.device()).sum_rows(rows, O, dy.numel() / O, 1.0, db);
  }
}

namespace {
const BackendRegistration registration(DeviceType::cuda, [](Backend& b) {
  b.conv2d_forward = conv2d_forward;
  b.conv2d_backward_data = conv2d_backward_data;
  b.conv2d_backward_weights = conv2d_backward_weights;
});
}  // namespace

}  // namespace mpq::cuda
