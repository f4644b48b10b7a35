#include "core/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace mpq {

namespace {
void fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}
}  // namespace

std::string read_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  MPQ_CHECK(in.good(), what, ": cannot open '", path, "'");
  std::stringstream ss;
  ss << in.rdbuf();
  MPQ_CHECK(!in.bad(), what, ": cannot read '", path, "'");
  return ss.str();
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_files_atomic({{path, bytes}});
}

void write_files_atomic(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<std::string> written;  // temporary files, removed if anything fails
  try {
    for (const auto& [path, bytes] : files) {
      const std::string tmp = path + ".tmp";
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      MPQ_CHECK(out.good(), "cannot write '", tmp, "'");
      written.push_back(tmp);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      out.flush();
      MPQ_CHECK(out.good(), "writing '", tmp, "' failed (disk full?)");
      out.close();
      MPQ_CHECK(!out.fail(), "writing '", tmp, "' failed (disk full?)");
      fsync_path(tmp, O_RDONLY);
    }
  } catch (...) {
    for (const std::string& tmp : written) std::remove(tmp.c_str());
    throw;
  }
  for (std::size_t k = 0; k < files.size(); ++k) {
    const std::string& path = files[k].first;
    if (std::rename(written[k].c_str(), path.c_str()) != 0) {
      for (std::size_t j = k; j < written.size(); ++j) std::remove(written[j].c_str());
      MPQ_FAIL("cannot rename '", written[k], "' to '", path, "'");
    }
    const std::string dir = std::filesystem::path(path).parent_path().string();
    fsync_path(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
  }
}

}  // namespace mpq
