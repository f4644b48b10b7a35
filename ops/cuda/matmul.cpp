// CUDA matmul through cuBLAS (ops/cpu/matmul.cpp is the CPU side): c = a b for
// float32 (SGEMM, full float32 arithmetic, no TF32) and float64 (DGEMM).
#include "core/backend.h"
#include "core/tensor.h"

#include "core/cuda/handles.cuh"

namespace mpq::cuda {

namespace {

// How cuBLAS (column-major) sees a row-major-indexed matrix [rows, cols]: a
// row-major matrix is its own transpose in column-major order (op N of the
// transposed product), a column-major one needs op T.
struct Operand {
  cublasOperation_t op;
  int ld;
};

Operand operand(const Tensor& t) {
  const auto& s = t.strides();
  if (s[1] == 1 && s[0] >= t.shape()[1])
    return {CUBLAS_OP_N, static_cast<int>(std::max<std::int64_t>(s[0], 1))};
  MPQ_CHECK(s[0] == 1 && s[1] >= t.shape()[0], "cuda::matmul: matrix ", shape_str(t.shape()),
            " with strides ", shape_str(s), " is dense along neither axis");
  return {CUBLAS_OP_T, static_cast<int>(std::max<std::int64_t>(s[1], 1))};
}

}  // namespace

void matmul(const Tensor& a, const Tensor& b, const Tensor& c) {
  const std::int64_t M = a.shape()[0], K = a.shape()[1], N = b.shape()[1];
  MPQ_CHECK(M < (1LL << 31) && N < (1LL << 31) && K < (1LL << 31), "cuda::matmul: dimensions ", M,
            "x", K, "x", N, " exceed cuBLAS's int range");
  // Row-major C = A B is column-major C^T = B^T A^T: cuBLAS computes
  // C^T [N, M] = op(B) op(A) with ldc = N.
  const Operand oa = operand(a), ob = operand(b);
  cublasHandle_t h = cublas_handle(c.device());
  const int m = static_cast<int>(N), n = static_cast<int>(M), k = static_cast<int>(K);
  if (a.dtype() == DType::f32) {
    const float one = 1.0f, zero = 0.0f;
    MPQ_CUBLAS_CHECK(cublas().sgemm(h, ob.op, oa.op, m, n, k, &one,
                                    static_cast<const float*>(b.device_data()), ob.ld,
                                    static_cast<const float*>(a.device_data()), oa.ld, &zero,
                                    static_cast<float*>(c.device_data()), m));
  } else {
    const double one = 1.0, zero = 0.0;
    MPQ_CUBLAS_CHECK(cublas().dgemm(h, ob.op, oa.op, m, n, k, &one,
                                    static_cast<const double*>(b.device_data()), ob.ld,
                                    static_cast<const double*>(a.device_data()), oa.ld, &zero,
                                    static_cast<double*>(c.device_data()), m));
  }
}

namespace {
const BackendRegistration registration(DeviceType::cuda, [](Backend& b) { b.matmul = matmul; });
}  // namespace

}  // namespace mpq::cuda
