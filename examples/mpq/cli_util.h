// Small helpers the `mpq` subcommands share.
#pragma once

#include <string>
#include <vector>

namespace mpq::cli {

// Peak resident set size of this process in MiB (Linux reports ru_maxrss in KiB).
double peak_rss_mb();

// `mpq <command> VALUE ...` as `mpq <command> --<flag> VALUE ...`: argv with
// "--<flag>" inserted when the first argument is not a flag. `storage`
// holds that text and must outlive the result.
std::vector<char*> with_leading_flag(int argc, char** argv, const std::string& flag,
                                     std::string& storage);

}  // namespace mpq::cli
