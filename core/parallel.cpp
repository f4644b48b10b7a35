#include "core/parallel.h"

#include "core/error.h"

namespace mpq {

int num_threads() {
  return omp_get_max_threads();
}

void set_num_threads(int n) {
  MPQ_CHECK(n >= 1, "set_num_threads: expected at least 1 thread, got ", n);
  omp_set_num_threads(n);
}

}  // namespace mpq
