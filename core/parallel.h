// One parallel-for for mpq's own loops. It runs on the same OpenMP runtime
// that Debian's oneDNN uses, so mpq kernels and oneDNN primitives share one
// thread pool and never oversubscribe the cores.
#pragma once

#include <cstdint>
#include <exception>

#include <omp.h>

namespace mpq {

int num_threads();
void set_num_threads(int n);

// Splits [begin, end) into one contiguous chunk per thread and calls
// f(chunk_begin, chunk_end). Runs inline when the range is at most `grain`
// long, when called from inside a parallel region, or with one thread.
// An exception thrown by f is rethrown on the calling thread.
template <class F>
void parallel_for(std::int64_t begin, std::int64_t end, std::int64_t grain, F&& f) {
  const std::int64_t n = end - begin;
  if (n <= 0) return;
  if (n <= grain || omp_in_parallel() || omp_get_max_threads() == 1) {
    f(begin, end);
    return;
  }
  std::exception_ptr error;
#pragma omp parallel
  {
    const std::int64_t nt = omp_get_num_threads();
    const std::int64_t tid = omp_get_thread_num();
    const std::int64_t chunk = (n + nt - 1) / nt;
    const std::int64_t b = begin + tid * chunk;
    const std::int64_t e = b + chunk < end ? b + chunk : end;
    if (b < e) {
      try {
        f(b, e);
      } catch (...) {
#pragma omp critical(mpq_parallel_for_error)
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace mpq
