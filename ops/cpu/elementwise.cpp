// CPU kernels of the elementwise ops. Operands arrive already broadcast to the
// output shape (expanded views with stride 0); the output is any strided
// tensor of the same shape. Autograd lives in ops/elementwise.cpp.
#include "core/backend.h"
#include "core/elementwise_kind.h"
#include "core/tensor.h"

#include <cmath>

#include <Eigen/Core>

#include "core/strided_loop.h"

namespace mpq::cpu {

namespace {

template <class O, class A, class B, class F>
void run_binary(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  O* po = out.data<O>();
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  strided_loop<3>(out.shape(), {out.strides(), a.strides(), b.strides()},
                  [&](const std::array<std::int64_t, 3>& off, std::int64_t n,
                      const std::array<std::int64_t, 3>& st) {
                    O* o = po + off[0];
                    const A* x = pa + off[1];
                    const B* y = pb + off[2];
                    // `omp simd`: the output may be an input (in-place ops) but
                    // never at another index, so the loops vectorise safely.
                    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
#pragma omp simd
                      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
                    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
                      const B yv = *y;
#pragma omp simd
                      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
                    } else {
                      for (std::int64_t i = 0; i < n; ++i)
                        o[i * st[0]] = f(x[i * st[1]], y[i * st[2]]);
                    }
                  });
}

template <class T, class F>
void run_unary(const Tensor& x, const Tensor& out, F f) {
  T* po = out.data<T>();
  const T* px = x.data<T>();
  strided_loop<2>(out.shape(), {out.strides(), x.strides()},
                  [&](const std::array<std::int64_t, 2>& off, std::int64_t n,
                      const std::array<std::int64_t, 2>& st) {
                    T* o = po + off[0];
                    const T* v = px + off[1];
                    if (st[0] == 1 && st[1] == 1) {
#pragma omp simd
                      for (std::int64_t i = 0; i < n; ++i) o[i] = f(v[i]);
                    } else {
                      for (std::int64_t i = 0; i < n; ++i) o[i * st[0]] = f(v[i * st[1]]);
                    }
                  });
}

// exp, log and sqrt over contiguous rows use Eigen's vectorised versions
// (std::exp in a loop is not vectorised without -ffast-math); strided rows
// fall back to the scalar loop.
template <class T, class Scalar, class Vector>
void run_transcendental(const Tensor& x, const Tensor& out, Scalar scalar, Vector vector) {
  T* po = out.data<T>();
  const T* px = x.data<T>();
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
  strided_loop<2>(out.shape(), {out.strides(), x.strides()},
                  [&](const std::array<std::int64_t, 2>& off, std::int64_t n,
                      const std::array<std::int64_t, 2>& st) {
                    T* o = po + off[0];
                    const T* v = px + off[1];
                    if (st[0] == 1 && st[1] == 1) {
                      Eigen::Map<Array>(o, n) = vector(Eigen::Map<const Array>(v, n));
                    } else {
                      for (std::int64_t i = 0; i < n; ++i) o[i * st[0]] = scalar(v[i * st[1]]);
                    }
                  });
}

}  // namespace

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out, double alpha,
            double beta) {
  dispatch_floating(a.dtype(), "elementwise", [&]<class T>() {
    using U = std::uint8_t;
    switch (op) {
      case BinaryOp::add:
        return run_binary<T, T, T>(a, b, out, [](T x, T y) { return x + y; });
      case BinaryOp::sub:
        return run_binary<T, T, T>(a, b, out, [](T x, T y) { return x - y; });
      case BinaryOp::mul:
        return run_binary<T, T, T>(a, b, out, [](T x, T y) { return x * y; });
      case BinaryOp::div:
        return run_binary<T, T, T>(a, b, out, [](T x, T y) { return x / y; });
      case BinaryOp::minimum:
        return run_binary<T, T, T>(a, b, out, [](T x, T y) { return y < x ? y : x; });
      case BinaryOp::maximum:
        return run_binary<T, T, T>(a, b, out, [](T x, T y) { return y > x ? y : x; });
      case BinaryOp::eq:
        return run_binary<U, T, T>(a, b, out, [](T x, T y) { return U(x == y); });
      case BinaryOp::ne:
        return run_binary<U, T, T>(a, b, out, [](T x, T y) { return U(x != y); });
      case BinaryOp::lt:
        return run_binary<U, T, T>(a, b, out, [](T x, T y) { return U(x < y); });
      case BinaryOp::le:
        return run_binary<U, T, T>(a, b, out, [](T x, T y) { return U(x <= y); });
      case BinaryOp::gt:
        return run_binary<U, T, T>(a, b, out, [](T x, T y) { return U(x > y); });
      case BinaryOp::ge:
        return run_binary<U, T, T>(a, b, out, [](T x, T y) { return U(x >= y); });
      case BinaryOp::relu_backward:
        return run_binary<T, T, T>(a, b, out, [](T g, T x) { return x > T(0) ? g : T(0); });
      case BinaryOp::clamp_backward: {
        const T lo = static_cast<T>(alpha), hi = static_cast<T>(beta);
        return run_binary<T, T, T>(a, b, out,
                                   [lo, hi](T g, T x) { return x >= lo && x <= hi ? g : T(0); });
      }
    }
  });
}

void unary(UnaryOp op, const Tensor& x, const Tensor& out, double alpha, double beta) {
  dispatch_floating(x.dtype(), "elementwise", [&]<class T>() {
    const T a = static_cast<T>(alpha), b = static_cast<T>(beta);
    switch (op) {
      case UnaryOp::neg:
        return run_unary<T>(x, out, [](T v) { return -v; });
      case UnaryOp::exp:
        return run_transcendental<T>(
            x, out, [](T v) { return std::exp(v); }, [](const auto& a) { return a.exp(); });
      case UnaryOp::log:
        return run_transcendental<T>(
            x, out, [](T v) { return std::log(v); }, [](const auto& a) { return a.log(); });
      case UnaryOp::sqrt:
        return run_transcendental<T>(
            x, out, [](T v) { return std::sqrt(v); }, [](const auto& a) { return a.sqrt(); });
      case UnaryOp::abs:
        return run_unary<T>(x, out, [](T v) { return std::abs(v); });
      case UnaryOp::sign:
        return run_unary<T>(x, out, [](T v) { return T((v > T(0)) - (v < T(0))); });
      case UnaryOp::relu:
        return run_unary<T>(x, out, [](T v) { return v > T(0) ? v : T(0); });
      // Half away from zero, as the paper's quantizers expect.
      case UnaryOp::round:
        return run_unary<T>(x, out, [](T v) { return std::round(v); });
      case UnaryOp::floor:
        return run_unary<T>(x, out, [](T v) { return std::floor(v); });
      case UnaryOp::ceil:
        return run_unary<T>(x, out, [](T v) { return std::ceil(v); });
      case UnaryOp::clamp:
        return run_unary<T>(x, out, [a, b](T v) { return v < a ? a : (v > b ? b : v); });
      case UnaryOp::pow:
        return run_unary<T>(x, out, [a](T v) { return std::pow(v, a); });
      case UnaryOp::affine:
        return run_unary<T>(x, out, [a, b](T v) { return a * v + b; });
      case UnaryOp::exp2:
        return run_unary<T>(x, out, [](T v) { return static_cast<T>(std::exp2(double(v))); });
      case UnaryOp::log2:
        return run_unary<T>(x, out, [](T v) { return static_cast<T>(std::log2(double(v))); });
      case UnaryOp::pow2_round:
        return run_unary<T>(x, out, [](T v) {
          return static_cast<T>(std::exp2(std::round(std::log2(double(v)))));
        });
    }
  });
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_floating(a.dtype(), "where", [&]<class T>() {
    T* po = out.data<T>();
    const std::uint8_t* pc = cond.data<std::uint8_t>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    strided_loop<4>(out.shape(), {out.strides(), cond.strides(), a.strides(), b.strides()},
                    [&](const std::array<std::int64_t, 4>& off, std::int64_t n,
                        const std::array<std::int64_t, 4>& st) {
                      for (std::int64_t i = 0; i < n; ++i)
                        po[off[0] + i * st[0]] = pc[off[1] + i * st[1]] ? pa[off[2] + i * st[2]]
                                                                        : pb[off[3] + i * st[3]];
                    });
  });
}

namespace {
const BackendRegistration registration(DeviceType::cpu, [](Backend& b) {
  b.binary = binary;
  b.unary = unary;
  b.where = where;
});
}  // namespace

}  // namespace mpq::cpu
