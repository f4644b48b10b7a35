// Wall time since a point, in seconds, on the monotonic clock (a system clock
// step during a run must not make an epoch last negative time).
#pragma once

#include <chrono>

namespace mpq {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace mpq
