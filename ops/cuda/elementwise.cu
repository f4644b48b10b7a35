// CUDA kernels of the elementwise ops, the counterparts of ops/cpu/elementwise.cpp
// (same kinds, same results: each kind computes the same formula in the same
// dtype). Operands arrive broadcast to the output's shape; any strides.
#include "core/backend.h"
#include "core/cuda/check.cuh"
#include "core/cuda/grid_stride.cuh"
#include "core/cuda/indexer.cuh"
#include "core/elementwise_kind.h"
#include "core/tensor.h"

namespace mpq::cuda {

namespace {

// One formula per kind, resolved at compile time (OP is a template argument).
// They match ops/cpu/elementwise.cpp; round is half away from zero (CUDA's
// round, as std::round).
template <BinaryOp OP, class T>
__device__ __forceinline__ auto apply_binary(T x, T y, T lo, T hi) {
  using U = std::uint8_t;
  if constexpr (OP == BinaryOp::add)
    return x + y;
  else if constexpr (OP == BinaryOp::sub)
    return x - y;
  else if constexpr (OP == BinaryOp::mul)
    return x * y;
  else if constexpr (OP == BinaryOp::div)
    return x / y;
  else if constexpr (OP == BinaryOp::minimum)
    return y < x ? y : x;
  else if constexpr (OP == BinaryOp::maximum)
    return y > x ? y : x;
  else if constexpr (OP == BinaryOp::eq)
    return U(x == y);
  else if constexpr (OP == BinaryOp::ne)
    return U(x != y);
  else if constexpr (OP == BinaryOp::lt)
    return U(x < y);
  else if constexpr (OP == BinaryOp::le)
    return U(x <= y);
  else if constexpr (OP == BinaryOp::gt)
    return U(x > y);
  else if constexpr (OP == BinaryOp::ge)
    return U(x >= y);
  else if constexpr (OP == BinaryOp::relu_backward)
    return y > T(0) ? x : T(0);
  else
    return y >= lo && y <= hi ? x : T(0);  // clamp_backward
}

template <UnaryOp OP, class T>
__device__ __forceinline__ T apply_unary(T v, T a, T b) {
  if constexpr (OP == UnaryOp::neg)
    return -v;
  else if constexpr (OP == UnaryOp::exp)
    return exp(v);
  else if constexpr (OP == UnaryOp::log)
    return log(v);
  else if constexpr (OP == UnaryOp::sqrt)
    return sqrt(v);
  else if constexpr (OP == UnaryOp::abs)
    return fabs(v);
  else if constexpr (OP == UnaryOp::sign)
    return T((v > T(0)) - (v < T(0)));
  else if constexpr (OP == UnaryOp::relu)
    return v > T(0) ? v : T(0);
  else if constexpr (OP == UnaryOp::round)
    return round(v);
  else if constexpr (OP == UnaryOp::floor)
    return floor(v);
  else if constexpr (OP == UnaryOp::ceil)
    return ceil(v);
  else if constexpr (OP == UnaryOp::clamp)
    return v < a ? a : (v > b ? b : v);
  else if constexpr (OP == UnaryOp::pow)
    return pow(v, a);
  else if constexpr (OP == UnaryOp::affine)
    return a * v + b;
  else if constexpr (OP == UnaryOp::exp2)
    return static_cast<T>(exp2(static_cast<double>(v)));
  else if constexpr (OP == UnaryOp::log2)
    return static_cast<T>(log2(static_cast<double>(v)));
  else
    return static_cast<T>(exp2(round(log2(static_cast<double>(v)))));  // pow2_round
}

template <BinaryOp OP, class O, class T>
__global__ void binary_kernel(O* out, const T* a, const T* b, std::int64_t n, Indexer<3> ix, T lo,
                              T hi) {
  for (const std::int64_t i : grid_stride(n)) {
    std::int64_t off[3];
    ix.offsets(i, off);
    out[off[0]] = static_cast<O>(apply_binary<OP>(a[off[1]], b[off[2]], lo, hi));
  }
}

template <UnaryOp OP, class T>
__global__ void unary_kernel(T* out, const T* x, std::int64_t n, Indexer<2> ix, T a, T b) {
  for (const std::int64_t i : grid_stride(n)) {
    std::int64_t off[2];
    ix.offsets(i, off);
    out[off[0]] = apply_unary<OP>(x[off[1]], a, b);
  }
}

template <class T>
__global__ void where_kernel(T* out, const std::uint8_t* cond, const T* a, const T* b,
                             std::int64_t n, Indexer<4> ix) {
  for (const std::int64_t i : grid_stride(n)) {
    std::int64_t off[4];
    ix.offsets(i, off);
    out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
  }
}

template <BinaryOp OP, class T>
void launch_binary(const Tensor& a, const Tensor& b, const Tensor& out, double alpha, double beta) {
  const std::int64_t n = out.numel();
  if (n == 0) return;
  const Indexer<3> ix = make_indexer<3>(out.shape(), {&out, &a, &b});
  using O = decltype(apply_binary<OP>(T(), T(), T(), T()));
  binary_kernel<OP, O, T><<<grid_for(n), kThreads, 0, stream(out.device())>>>(
      static_cast<O*>(out.device_data()), static_cast<const T*>(a.device_data()),
      static_cast<const T*>(b.device_data()), n, ix, static_cast<T>(alpha), static_cast<T>(beta));
  check_launch("binary");
}

template <UnaryOp OP, class T>
void launch_unary(const Tensor& x, const Tensor& out, double alpha, double beta) {
  const std::int64_t n = out.numel();
  if (n == 0) return;
  const Indexer<2> ix = make_indexer<2>(out.shape(), {&out, &x});
  unary_kernel<OP, T><<<grid_for(n), kThreads, 0, stream(out.device())>>>(
      static_cast<T*>(out.device_data()), static_cast<const T*>(x.device_data()), n, ix,
      static_cast<T>(alpha), static_cast<T>(beta));
  check_launch("unary");
}

}  // namespace

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out, double alpha,
            double beta) {
  check_same_device("cuda::binary", {&out, &a, &b});
  dispatch_floating(a.dtype(), "elementwise", [&]<class T>() {
    switch (op) {
#define MPQ_CASE(K) \
  case BinaryOp::K: \
    return launch_binary<BinaryOp::K, T>(a, b, out, alpha, beta)
      MPQ_CASE(add);
      MPQ_CASE(sub);
      MPQ_CASE(mul);
      MPQ_CASE(div);
      MPQ_CASE(minimum);
      MPQ_CASE(maximum);
      MPQ_CASE(eq);
      MPQ_CASE(ne);
      MPQ_CASE(lt);
      MPQ_CASE(le);
      MPQ_CASE(gt);
      MPQ_CASE(ge);
      MPQ_CASE(relu_backward);
      MPQ_CASE(clamp_backward);
#undef MPQ_CASE
    }
  });
}

void unary(UnaryOp op, const Tensor& x, const Tensor& out, double alpha, double beta) {
  check_same_device("cuda::unary", {&out, &x});
  dispatch_floating(x.dtype(), "elementwise", [&]<class T>() {
    switch (op) {
#define MPQ_CASE(K) \
  case UnaryOp::K:  \
    return launch_unary<UnaryOp::K, T>(x, out, alpha, beta)
      MPQ_CASE(neg);
      MPQ_CASE(exp);
      MPQ_CASE(log);
      MPQ_CASE(sqrt);
      MPQ_CASE(abs);
      MPQ_CASE(sign);
      MPQ_CASE(relu);
      MPQ_CASE(round);
      MPQ_CASE(floor);
      MPQ_CASE(ceil);
      MPQ_CASE(clamp);
      MPQ_CASE(pow);
      MPQ_CASE(affine);
      MPQ_CASE(exp2);
      MPQ_CASE(log2);
      MPQ_CASE(pow2_round);
#undef MPQ_CASE
    }
  });
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  check_same_device("cuda::where", {&out, &cond, &a, &b});
  const std::int64_t n = out.numel();
  if (n == 0) return;
  const Indexer<4> ix = make_indexer<4>(out.shape(), {&out, &cond, &a, &b});
  dispatch_floating(a.dtype(), "where", [&]<class T>() {
    where_kernel<T><<<grid_for(n), kThreads, 0, stream(out.device())>>>(
        static_cast<T*>(out.device_data()), static_cast<const std::uint8_t*>(cond.device_data()),
        static_cast<const T*>(a.device_data()), static_cast<const T*>(b.device_data()), n, ix);
  });
  check_launch("where");
}

namespace {
const BackendRegistration registration(DeviceType::cuda, [](Backend& b) {
  b.binary = binary;
  b.unary = unary;
  b.where = where;
});
}  // namespace

}  // namespace mpq::cuda
