#include "examples/mpq/cli_util.h"

#include <sys/resource.h>

namespace mpq::cli {

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

std::vector<char*> with_leading_flag(int argc, char** argv, const std::string& flag,
                                     std::string& storage) {
  std::vector<char*> out(argv, argv + argc);
  if (argc >= 2 && argv[1][0] != '-') {
    storage = "--" + flag;
    out.insert(out.begin() + 1, storage.data());
  }
  return out;
}

}  // namespace mpq::cli
