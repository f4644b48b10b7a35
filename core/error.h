// mpq::Error and the checking macros every op uses.
//
// Messages name the op, the shapes involved and what was expected, e.g.
//   "add: shapes [2, 3] and [4] cannot be broadcast (dimension 1: 3 vs 4)".
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace mpq {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

}  // namespace mpq

// Throws mpq::Error with the streamed arguments when cond is false.
#define MPQ_CHECK(cond, ...)                                             \
  do {                                                                   \
    if (!(cond)) throw ::mpq::Error(::mpq::detail::concat(__VA_ARGS__)); \
  } while (0)

#define MPQ_FAIL(...) throw ::mpq::Error(::mpq::detail::concat(__VA_ARGS__))
