// Plain-loop reference of C[M,N] = A[M,K] B[K,N] for any strides: the oracle
// of the oneDNN kernel and the float64 path used by gradient checks.
#pragma once

#include <cstdint>

namespace mpq::reference {

template <class T>
void matmul(const T* a, std::int64_t lda_m, std::int64_t lda_k, const T* b, std::int64_t ldb_k,
            std::int64_t ldb_n, T* c, std::int64_t M, std::int64_t K, std::int64_t N) {
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      T acc = 0;
      for (std::int64_t k = 0; k < K; ++k)
        acc += a[i * lda_m + k * lda_k] * b[k * ldb_k + j * ldb_n];
      c[i * N + j] = acc;
    }
}

}  // namespace mpq::reference
